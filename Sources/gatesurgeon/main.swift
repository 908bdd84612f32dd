import GateSurgeon
import GateSurgeonCommands
import Platform

PendingOutputs.removeOnInterrupt()
PendingOutputs.removeOnBusError()
exit(GateSurgeonCommand.execute(Array(CommandLine.arguments.dropFirst())))
