import GateSurgeon

/// Turns the library's errors, which carry data and never name options,
/// into the one line a user reads, with the option that fixes the problem
/// where there is one.
enum ErrorMessages {
    static func describe(_ error: any Error) -> String {
        oneLine(hinted(error))
    }

    private static func hinted(_ error: any Error) -> String {
        switch error {
        case let error as OutputError:
            switch error {
            case .exists: return "\(error) (pass --force to replace it)"
            case .leftoverWeights: return "\(error); remove them or choose an empty directory"
            case .isInput, .insideInput, .containsInput: return "\(error); choose an output outside the input"
            default: return "\(error)"
            }
        case let error as ModelError:
            switch error {
            case .noConfig, .configMismatch: return "\(error); pass the model's config.json with --config PATH"
            default: return "\(error)"
            }
        case let error as QuantizationRequestError:
            switch error {
            case .importanceRequired(_, _, _, let haveMatrix):
                return haveMatrix ? "\(error)" : "\(error); pass --imatrix FILE (made by gatesurgeon imatrix or llama-imatrix)"
            }
        case let error as ImportanceMatrixError:
            switch error {
            case .chunksTooShort(_, let minimum): return "\(error); pass --context \(minimum) or more"
            default: return "\(error)"
            }
        case let error as QuantizationRulesError:
            switch error {
            case .requantizing: return "\(error); pass --allow-requantize to do it anyway"
            default: return "\(error)"
            }
        case let error as GateInsertionError:
            switch error {
            case .layoutUnsupported, .partialLayersUnsupported, .cannotConvert: return "\(error); choose another --layout (separate works for every model)"
            case .headwiseUnsupported: return "\(error); use --granularity elementwise or another --layout"
            default: return "\(error)"
            }
        case let error as TokenizerError:
            switch error {
            case .noTokenizer: return "\(error); give token ids with --tokens"
            default: return "\(error)"
            }
        default:
            return "\(error)"
        }
    }

    /// `text` on one line: newlines, tabs and other control characters
    /// (terminal escapes included) written as escapes, so a tensor name in
    /// a malformed file cannot split a message or drive the terminal.
    static func oneLine(_ text: String) -> String {
        var result = ""
        result.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                    result += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result
    }
}
