//! cty numbers: arbitrary precision on the wire; most values are small integers.
//!
//! go-cty keeps numbers as 512-bit `big.Float`s. We have no big-number crate and need none:
//! every number that crosses the wire is either an exact i64, an exact float64 or a decimal
//! string, so [`Number`] keeps exactly those three forms and never rounds. Two numbers are
//! equal when their canonical decimal texts are equal (floats rendered in their shortest
//! round-trip form, the way Terraform writes them into state).

use std::borrow::Cow;

/// The longest decimal text accepted for one number. go-cty would accept more, but a number
/// that needs more than 4096 characters is an attack or a bug, not configuration; refusing it
/// bounds the memory one short input (`1e999999999`) can make us allocate.
pub const MAX_NUMBER_TEXT: usize = 4096;

/// A cty number. Terraform sends exact integers as msgpack ints, exact non-integers as float64
/// and everything else as a decimal string; all three are kept so nothing is rounded.
#[derive(Debug, Clone)]
pub enum Number {
    /// An integer that fits in i64.
    Int(i64),
    /// A finite or infinite float64 that is not an i64 integer.
    Float(f64),
    /// A decimal string (no exponent) for values neither of the above can hold exactly.
    Decimal(String),
}

impl Number {
    /// The value as i64 when it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(*i),
            Number::Float(f) => f64_as_i64(*f),
            Number::Decimal(s) => s.parse().ok(),
        }
    }

    /// The value as f64 (possibly rounded, for Decimal).
    pub fn as_f64(&self) -> f64 {
        match self {
            Number::Int(i) => *i as f64,
            Number::Float(f) => *f,
            Number::Decimal(s) => s.parse().unwrap_or(f64::NAN),
        }
    }

    /// Parses the decimal text forms go-cty accepts for a number (msgpack strings, JSON
    /// numbers, JSON strings): optional sign, digits with an optional fraction and exponent,
    /// or `Inf`/`Infinity` with an optional sign. Exists so every codec canonicalises numbers
    /// the same way: the result is `Int` when the value is an i64 integer, `Float` when it is
    /// an exact non-integer float64 (or infinite), else `Decimal` with normalised text.
    pub fn parse(text: &str) -> Result<Number, String> {
        let t = text.trim();
        let (neg, body) = match t.as_bytes().first() {
            Some(b'-') => (true, &t[1..]),
            Some(b'+') => (false, &t[1..]),
            _ => (false, t),
        };
        if matches!(body, "Inf" | "inf" | "Infinity" | "infinity") {
            return Ok(Number::Float(if neg {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }));
        }
        let bad = || format!("{:?} is not a number", shorten(text));
        let (mantissa, exp_part) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let (int_part, frac_part) = match mantissa.find('.') {
            Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
            None => (mantissa, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad());
        }
        if !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let exp: i64 = match exp_part {
            None => 0,
            Some(e) => {
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                // Anything beyond this is out of range whatever the mantissa.
                if digits.trim_start_matches('0').len() > 9 {
                    return Err(format!("{:?} is out of the supported range", shorten(text)));
                }
                e.parse().map_err(|_| bad())?
            }
        };
        // value = 0.<digits> * 10^point, with digits free of leading zeros.
        let all: String = [int_part, frac_part].concat();
        let lead = all.bytes().take_while(|&b| b == b'0').count();
        let digits = all[lead..].trim_end_matches('0');
        if digits.is_empty() {
            return Ok(Number::Int(0));
        }
        let point = int_part.len() as i64 - lead as i64 + exp;
        let n = digits.len() as i64;
        let text_len = if point <= 0 {
            2 + (-point) + n
        } else if point >= n {
            point
        } else {
            n + 1
        };
        if text_len > MAX_NUMBER_TEXT as i64 {
            return Err(format!("{:?} is out of the supported range", shorten(text)));
        }
        let mut out = String::with_capacity(text_len as usize + 1);
        if neg {
            out.push('-');
        }
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-point) as usize));
            out.push_str(digits);
        } else if point >= n {
            out.push_str(digits);
            out.extend(std::iter::repeat_n('0', (point - n) as usize));
        } else {
            out.push_str(&digits[..point as usize]);
            out.push('.');
            out.push_str(&digits[point as usize..]);
        }
        Ok(Number::from_normalized(out))
    }

    /// Classifies normalised decimal text (no exponent, no redundant zeros, not zero).
    fn from_normalized(text: String) -> Number {
        match text.find('.') {
            None => match text.parse::<i64>() {
                Ok(i) => Number::Int(i),
                // An integer beyond i64: go-cty writes these as strings, never as floats.
                Err(_) => Number::Decimal(text),
            },
            Some(dot) => {
                let frac_digits = text.len() - dot - 1;
                match text.parse::<f64>() {
                    Ok(f) if f.is_finite() && exact_fraction_digits(f) == Some(frac_digits) => {
                        if format!("{f:.frac_digits$}") == text {
                            Number::Float(f)
                        } else {
                            Number::Decimal(text)
                        }
                    }
                    _ => Number::Decimal(text),
                }
            }
        }
    }

    /// The canonical form of this number: what [`Number::parse`] would give for its text.
    /// Exists because values built by hand (`Number::Float(2.0)`, `Number::Decimal("0.50")`)
    /// need not be canonical, while encoders and equality want one form per value.
    pub fn canonical(&self) -> Cow<'_, Number> {
        match self {
            Number::Int(_) => Cow::Borrowed(self),
            Number::Float(f) => {
                if let Some(i) = f64_as_i64(*f) {
                    Cow::Owned(Number::Int(i))
                } else if f.is_finite() && f.fract() == 0.0 {
                    // Integral but beyond i64: the decimal string form.
                    Cow::Owned(Number::Decimal(format!("{f}")))
                } else {
                    Cow::Borrowed(self)
                }
            }
            Number::Decimal(s) => match Number::parse(s) {
                Ok(Number::Decimal(n)) if &n == s => Cow::Borrowed(self),
                Ok(n) => Cow::Owned(n),
                Err(_) => Cow::Borrowed(self),
            },
        }
    }

    /// Decimal text as Terraform writes numbers into JSON state (`big.Float.Text('f', -1)`):
    /// integers plainly, floats in their shortest round-trip form, no exponent. `None` for
    /// NaN and ±Inf, which JSON cannot carry.
    pub fn to_decimal_string(&self) -> Option<String> {
        match self.canonical().as_ref() {
            Number::Int(i) => Some(i.to_string()),
            Number::Float(f) if f.is_finite() => Some(format!("{f}")),
            Number::Float(_) => None,
            Number::Decimal(s) => Some(s.clone()),
        }
    }

    /// True for ±Inf, which msgpack can carry (as float64) and JSON cannot.
    pub fn is_infinite(&self) -> bool {
        matches!(self, Number::Float(f) if f.is_infinite())
    }

    /// True for NaN, which is not a cty number at all: codecs refuse it.
    pub fn is_nan(&self) -> bool {
        matches!(self, Number::Float(f) if f.is_nan())
    }

    /// Text used for equality: canonical decimal text, with ±Inf spelled out.
    fn eq_text(&self) -> Cow<'_, str> {
        match self.canonical() {
            Cow::Borrowed(Number::Decimal(s)) => Cow::Borrowed(s.as_str()),
            c => match c.as_ref() {
                Number::Int(i) => Cow::Owned(i.to_string()),
                Number::Float(f) if f.is_nan() => Cow::Borrowed("NaN"),
                Number::Float(f) if f.is_infinite() => {
                    Cow::Borrowed(if *f > 0.0 { "+Inf" } else { "-Inf" })
                }
                Number::Float(f) => Cow::Owned(format!("{f}")),
                Number::Decimal(s) => Cow::Owned(s.clone()),
            },
        }
    }
}

/// `f` as i64 when it is an integer inside i64's range (exactly, unlike a bare `as` cast).
pub(crate) fn f64_as_i64(f: f64) -> Option<i64> {
    // 2^63 is exactly representable; every float below it with no fraction fits.
    if f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
    {
        Some(f as i64)
    } else {
        None
    }
}

/// How many decimal fraction digits the exact expansion of a finite float has (a float with
/// k binary fraction digits has exactly k decimal ones). `None` for NaN/Inf.
fn exact_fraction_digits(f: f64) -> Option<usize> {
    if !f.is_finite() {
        return None;
    }
    if f == 0.0 {
        return Some(0);
    }
    let bits = f.to_bits();
    let exp_field = ((bits >> 52) & 0x7ff) as i64;
    let frac = bits & ((1u64 << 52) - 1);
    let (mant, mut exp) = if exp_field == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), exp_field - 1075)
    };
    exp += i64::from(mant.trailing_zeros());
    Some(if exp < 0 { (-exp) as usize } else { 0 })
}

fn shorten(s: &str) -> Cow<'_, str> {
    if s.len() <= 40 {
        Cow::Borrowed(s)
    } else {
        let mut end = 40;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        Cow::Owned(format!("{}…", &s[..end]))
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        if self.is_nan() || other.is_nan() {
            return false;
        }
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::Float(a), Number::Float(b)) if !a.is_nan() && !b.is_nan() => a == b,
            _ => self.eq_text() == other.eq_text(),
        }
    }
}

impl std::fmt::Display for Number {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.to_decimal_string() {
            Some(s) => f.write_str(&s),
            None => f.write_str(&self.eq_text()),
        }
    }
}

impl From<i64> for Number {
    fn from(n: i64) -> Self {
        Number::Int(n)
    }
}

impl From<u64> for Number {
    fn from(n: u64) -> Self {
        match i64::try_from(n) {
            Ok(i) => Number::Int(i),
            Err(_) => Number::Decimal(n.to_string()),
        }
    }
}

impl From<f64> for Number {
    fn from(f: f64) -> Self {
        Number::Float(f).canonical().into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_canonicalises() {
        assert_eq!(Number::parse("42").ok(), Some(Number::Int(42)));
        assert!(matches!(Number::parse("1.5"), Ok(Number::Float(f)) if f == 1.5));
        assert!(matches!(Number::parse("15e-1"), Ok(Number::Float(f)) if f == 1.5));
        assert!(matches!(Number::parse("0.1"), Ok(Number::Decimal(s)) if s == "0.1"));
        assert!(matches!(Number::parse("-000.100"), Ok(Number::Decimal(s)) if s == "-0.1"));
        assert!(
            matches!(Number::parse("1e20"), Ok(Number::Decimal(s)) if s == "100000000000000000000")
        );
        assert!(matches!(
            Number::parse("9223372036854775807"),
            Ok(Number::Int(i64::MAX))
        ));
        assert!(matches!(
            Number::parse("-9223372036854775808"),
            Ok(Number::Int(i64::MIN))
        ));
        assert!(matches!(
            Number::parse("9223372036854775808"),
            Ok(Number::Decimal(_))
        ));
        assert!(matches!(Number::parse("-0.0"), Ok(Number::Int(0))));
        assert!(matches!(Number::parse("-Inf"), Ok(Number::Float(f)) if f == f64::NEG_INFINITY));
        assert!(matches!(Number::parse("2.5e3"), Ok(Number::Int(2500))));
        assert!(matches!(Number::parse(".5"), Ok(Number::Float(f)) if f == 0.5));
        for bad in [
            "",
            "-",
            ".",
            "1e",
            "e5",
            "1.2.3",
            "0x10",
            "NaN",
            "1e99999999999",
            "1,5",
        ] {
            assert!(Number::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Number::parse(&format!("1e{}", MAX_NUMBER_TEXT)).is_err());
    }

    #[test]
    fn exact_float_detection() {
        // 2^-1074, the smallest subnormal, is exact with 1074 fraction digits.
        let tiny = f64::from_bits(1);
        let text = format!("{tiny:.1074}");
        let text = text.trim_end_matches('0').to_string();
        assert!(matches!(Number::parse(&text), Ok(Number::Float(f)) if f == tiny));
        // One digit more is no longer that float.
        assert!(matches!(
            Number::parse(&format!("{text}1")),
            Ok(Number::Decimal(_))
        ));
    }

    #[test]
    fn equality_is_numeric_text() {
        assert_eq!(Number::Float(2.0), Number::Int(2));
        assert_eq!(Number::Float(0.1), Number::Decimal("0.1".into()));
        assert_eq!(Number::Decimal("0.50".into()), Number::Float(0.5));
        assert_ne!(
            Number::Float(0.1),
            Number::Decimal("0.10000000000000001".into())
        );
        assert_ne!(Number::Int(1), Number::Float(1.5));
        assert_eq!(Number::Float(f64::INFINITY), Number::Decimal("Inf".into()));
        assert_ne!(Number::Float(f64::NAN), Number::Float(f64::NAN));
    }

    #[test]
    fn conversions() {
        assert_eq!(
            Number::from(u64::MAX),
            Number::Decimal("18446744073709551615".into())
        );
        assert!(matches!(Number::from(1e20), Number::Decimal(s) if s == "100000000000000000000"));
        assert!(matches!(Number::from(3.0), Number::Int(3)));
        assert_eq!(Number::Float(1e20).as_i64(), None);
        assert_eq!(
            Number::Float(-9_223_372_036_854_775_808.0).as_i64(),
            Some(i64::MIN)
        );
        assert_eq!(
            Number::Float(0.25).to_decimal_string().as_deref(),
            Some("0.25")
        );
        assert_eq!(Number::Float(f64::INFINITY).to_decimal_string(), None);
    }
}
