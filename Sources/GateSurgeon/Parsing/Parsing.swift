// Parsing: reading untrusted bytes. ParserSpan is a bounds-checked cursor with absolute
// positions in every error, sliced and length-prefixed sub-parsers and checked arithmetic;
// every format reader (GGUF, safetensors headers, SentencePiece protobuf, importance matrices)
// reads through it. BinaryOutput is the matching writer.
