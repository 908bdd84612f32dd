// Tensors: DType (every element and block type both formats store, with sizes), tensors as
// stored in a file (StoredTensor) and as they will be written (OutputTensor).
