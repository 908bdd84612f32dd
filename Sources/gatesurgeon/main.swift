import GateSurgeonCommands

GateSurgeonCommand.main()
