//! cty numbers: arbitrary precision on the wire; most values are small integers.

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
            Number::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Some(*f as i64),
            Number::Float(_) => None,
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
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::Decimal(a), Number::Decimal(b)) => a == b,
            _ => match (self.as_i64(), other.as_i64()) {
                (Some(a), Some(b)) => a == b,
                _ => self.as_f64() == other.as_f64(),
            },
        }
    }
}

impl From<i64> for Number {
    fn from(n: i64) -> Self {
        Number::Int(n)
    }
}

impl From<f64> for Number {
    fn from(f: f64) -> Self {
        if f.fract() == 0.0 && f.abs() < 9.2e18 {
            Number::Int(f as i64)
        } else {
            Number::Float(f)
        }
    }
}
