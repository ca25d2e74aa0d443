//! Number formatting for the screen: tick-size precision, signed changes, grouped volumes.
//! Pure functions, so the server-rendered and hydrated pages print identical text.
//!
//! Prices arrive as integers in price units and are printed by [`Units`], exactly: no float
//! ever holds a price on its way to the screen. Other fractional numbers (chart coordinates,
//! latencies) go through [`Fixed`], which prints with integer arithmetic too. Why: std's float printing (`{:.2}` and `f64`'s `Display`, the Grisu and Dragon
//! algorithms and their tables) was the largest single function in the WASM, about 14 KB.

use std::fmt;

/// `value` rounded to `decimals` digits after the point (at most 9), half away from zero,
/// printed without float formatting: `Fixed(2.345, 1)` is `2.3`, `Fixed(-0.5, 0)` is `-1`.
///
/// Prints like std's `{:.N}` except at exact binary ties (std rounds `0.125` to `0.12`, this to
/// `0.13`), never prints `-0`, prints NaN as `0` and magnitudes beyond 10^18 as `∞`: none of
/// which a price, a percentage or a chart coordinate is.
#[derive(Clone, Copy, Debug)]
pub struct Fixed(pub f64, pub u8);

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Fixed(value, decimals) = *self;
        let decimals = decimals.min(9) as usize;
        let scale = 10u64.pow(decimals as u32);
        let scaled = (value.abs() * scale as f64).round();
        if scaled >= 1e18 {
            return f.write_str(if value < 0.0 { "−∞" } else { "∞" });
        }
        // `as` maps NaN to 0; below 10^18, the units fit an i64.
        let units = scaled as i64;
        Units(if value < 0.0 { -units } else { units }, decimals as u8).fmt(f)
    }
}

/// [`Fixed`] as a string, for attributes (an `f64` attribute would print through std's float
/// formatting).
pub fn fixed(value: f64, decimals: u8) -> String {
    Fixed(value, decimals).to_string()
}

/// An integer count of 10^-`decimals` printed as a decimal number, exactly: `Units(18984, 2)` is
/// `189.84`, `Units(-5, 3)` is `-0.005`.
#[derive(Clone, Copy, Debug)]
pub struct Units(pub i64, pub u8);

impl fmt::Display for Units {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Units(value, decimals) = *self;
        let decimals = decimals.min(18) as usize;
        let scale = 10u64.pow(decimals as u32);
        let abs = value.unsigned_abs();
        if value < 0 {
            f.write_str("-")?;
        }
        write!(f, "{}", abs / scale)?;
        if decimals > 0 {
            write!(f, ".{:0decimals$}", abs % scale)?;
        }
        Ok(())
    }
}

/// A price (in price units) at the instrument's precision, e.g. `187.42`.
pub fn price(units: i64, decimals: u8) -> String {
    Units(units, decimals).to_string()
}

/// `+`, `−` (a real minus sign) or nothing, for a signed figure.
fn sign(value: i64) -> &'static str {
    match value.signum() {
        1 => "+",
        -1 => "−",
        _ => "",
    }
}

/// A signed change (price units) with its percentage (hundredths of a percent), e.g.
/// `+1.25 (+0.67%)`.
pub fn change(change: i64, change_bp: i64, decimals: u8) -> String {
    format!(
        "{}{} ({}{}%)",
        sign(change),
        Units(change.abs(), decimals),
        sign(change_bp),
        Units(change_bp.abs(), 2)
    )
}

/// A volume of `value` units of 10^-`decimals` with thin thousands separators, e.g.
/// `1 234 567`: whole units, and two decimals (truncated) of an instrument that trades in
/// fractions (`8 333.12` bitcoin).
pub fn volume(value: u64, decimals: u8) -> String {
    let scale = 10u64.pow(u32::from(decimals.min(18)));
    let mut out = grouped(value / scale);
    if decimals > 0 {
        let cents = (value % scale) * 100 / scale;
        out.push_str(&format!(".{cents:02}"));
    }
    out
}

/// An integer with thin thousands separators, e.g. `1 234 567`.
fn grouped(value: u64) -> String {
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
        assert_eq!(price(18_740, 2), "187.40");
        assert_eq!(price(108_505, 5), "1.08505");
        assert_eq!(price(12_345, 5), "0.12345");
        assert_eq!(price(151_500, 3), "151.500");
        assert_eq!(price(7, 0), "7");
        assert_eq!(price(-5, 3), "-0.005");
        assert_eq!(price(i64::MIN, 2), "-92233720368547758.08");
        assert_eq!(change(125, 67, 2), "+1.25 (+0.67%)");
        assert_eq!(change(-50, -100, 2), "−0.50 (−1.00%)");
        assert_eq!(change(0, 0, 1), "0.0 (0.00%)");
        assert_eq!(change(1, 0, 5), "+0.00001 (0.00%)");
        assert_eq!(volume(0, 0), "0");
        assert_eq!(volume(1_234_567, 0), "1\u{2009}234\u{2009}567");
        assert_eq!(volume(100, 0), "100");
        assert_eq!(volume(83_331_299, 4), "8\u{2009}333.12");
        assert_eq!(volume(5, 1), "0.50");
        assert_eq!(volume(7, 3), "0.00");
    }

    /// Prints what std's `{:.N}` prints for the numbers the page shows, without its code.
    #[test]
    fn fixed_prints_like_std() {
        assert_eq!(fixed(0.0, 2), "0.00");
        assert_eq!(fixed(-0.001, 2), "0.00");
        assert_eq!(fixed(-2.5, 0), "-3");
        assert_eq!(fixed(999.996, 2), "1000.00");
        assert_eq!(fixed(64_250.5, 0), "64251");
        assert_eq!(fixed(f64::NAN, 1), "0.0");
        assert_eq!(fixed(1e300, 2), "∞");
        let mut next = crate::test_rng(0x9E37_79B9_7F4A_7C15u64);
        for _ in 0..100_000 {
            let decimals = (next() % 7) as u8;
            // A price on its tick grid, a percentage, a chart coordinate in 0..1000.
            let value = match next() % 3 {
                0 => (next() % 10_000_000_000) as f64 / 10f64.powi(decimals as i32),
                1 => ((next() % 200_001) as f64 - 100_000.0) / 100.0,
                _ => (next() % 1_000_000_000) as f64 / 1e6 + 1e-9,
            };
            let ours = fixed(value, decimals);
            let std = format!("{value:.*}", decimals as usize);
            // Exact binary ties round differently, and std's `-0.00` is `0.00` here
            // (documented); no other difference.
            let tie = (value.abs() * 10f64.powi(decimals as i32)).fract() == 0.5;
            let negative_zero = std
                .strip_prefix('-')
                .is_some_and(|z| z == ours && z.chars().all(|c| c == '0' || c == '.'));
            assert!(
                ours == std || tie || negative_zero,
                "{value} to {decimals}: {ours} vs {std}"
            );
        }
    }
}
