import GateSurgeon
import GateSurgeonCommands
import Platform

PendingOutputs.removeOnInterrupt()
exit(GateSurgeonCommand.execute(Array(CommandLine.arguments.dropFirst())))
