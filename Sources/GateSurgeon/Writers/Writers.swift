// Writers: producing files from a model. ConversionPolicy and QuantizationRequest decide each
// tensor's type, ModelWriter plans and streams a graph to safetensors or GGUF (with the
// converter's or llama-quantize's layout and metadata), TensorConversion converts checkpoints
// of any architecture tensor by tensor.
