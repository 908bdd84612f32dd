// GateSurgeonCommands: the command line. One file per command, Options/ for shared option
// groups, Reports/ for what commands print (text and JSON). Library errors, which carry data,
// become one-line messages with the option that helps (ErrorMessages).
