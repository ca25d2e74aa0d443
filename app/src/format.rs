//! Number formatting for the screen: tick-size precision, signed changes, grouped volumes.
//! Pure functions, so the server-rendered and hydrated pages print identical text.

/// A price at the instrument's precision, e.g. `187.42`.
pub fn price(value: f64, decimals: u8) -> String {
    format!("{value:.*}", decimals as usize)
}

/// A signed change with its percentage, e.g. `+1.25 (+0.67%)`.
pub fn change(change: f64, pct: f64, decimals: u8) -> String {
    let sign = if change > 0.0 {
        "+"
    } else if change < 0.0 {
        "−"
    } else {
        ""
    };
    let psign = if pct > 0.0 {
        "+"
    } else if pct < 0.0 {
        "−"
    } else {
        ""
    };
    format!(
        "{sign}{:.*} ({psign}{:.2}%)",
        decimals as usize,
        change.abs(),
        pct.abs()
    )
}

/// An integer with thin thousands separators, e.g. `1 234 567`.
pub fn volume(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{2009}');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(price(187.4, 2), "187.40");
        assert_eq!(price(1.08505, 5), "1.08505");
        assert_eq!(change(1.25, 0.6712, 2), "+1.25 (+0.67%)");
        assert_eq!(change(-0.5, -1.0, 2), "−0.50 (−1.00%)");
        assert_eq!(change(0.0, 0.0, 1), "0.0 (0.00%)");
        assert_eq!(volume(0), "0");
        assert_eq!(volume(1_234_567), "1\u{2009}234\u{2009}567");
        assert_eq!(volume(100), "100");
    }
}
