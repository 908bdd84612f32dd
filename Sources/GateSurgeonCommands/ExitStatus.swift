/// The exit statuses of every command, as the README documents them.
public enum ExitStatus {
    /// The command did what was asked.
    public static let success: Int32 = 0
    /// A verification ran and a threshold failed (the output, if any, stays).
    public static let verificationFailed: Int32 = 1
    /// Bad input or usage: a malformed or unsupported file, a path that
    /// may not be written, wrong options. Nothing was written.
    public static let badInput: Int32 = 2
    /// Interrupted by a signal (128 + SIGINT); outputs not committed are removed.
    public static let interrupted: Int32 = 130
}

/// Thrown when a verification's thresholds fail; the command has already
/// printed what failed. Maps to `ExitStatus.verificationFailed`.
struct VerificationFailed: Error {}
