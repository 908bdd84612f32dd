import GateSurgeon
import GateSurgeonCommands

AtomicOutput.removePendingOutputsOnInterrupt()
GateSurgeonCommand.main()
