import GateSurgeon
/// Number text for reports, without Foundation's formatters (the same
/// output on Linux and macOS).

/// Fixed-point text without Foundation's formatters.
func formatFixed(_ value: Double, digits: Int) -> String {
    guard value.isFinite else { return "\(value)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (abs(value) * scale).rounded()
    let whole = Int(rounded / scale)
    let fraction = Int(rounded - Double(whole) * scale)
    var text = String(whole)
    if digits > 0 {
        let fractionText = String(fraction)
        text += "." + String(repeating: "0", count: digits - fractionText.count) + fractionText
    }
    return (value < 0 && rounded != 0 ? "-" : "") + text
}

/// Scientific notation with three significant digits.
func formatScientific(_ value: Float) -> String {
    guard value.isFinite, value != 0 else { return "\(value)" }
    var exponent = 0
    var mantissa = Double(abs(value))
    while mantissa >= 10 { mantissa /= 10; exponent += 1 }
    while mantissa < 1 { mantissa *= 10; exponent -= 1 }
    return (value < 0 ? "-" : "") + formatFixed(mantissa, digits: 2) + "e" + (exponent < 0 ? "-" : "+") + String(abs(exponent))
}
