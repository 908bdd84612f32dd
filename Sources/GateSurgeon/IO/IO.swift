// IO: files. Memory-mapped input, buffered output, output paths (OutputTarget), and the
// OutputTransaction every write goes through: outputs staged beside their targets, never an
// input, never replacing what gatesurgeon did not write without being told, committed together
// or removed (also on signals, through PendingOutputs).
