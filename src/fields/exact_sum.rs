//! Exact sums of floating-point numbers, for running totals.
//!
//! Every finite `f64` is an integer multiple of 2^-1074, so a sum of them
//! is held exactly as a big integer in those units. Adding and subtracting
//! are exact (adding a value and subtracting it again restores the same
//! sum, bit for bit), and the sum is rounded to the nearest `f64` only
//! when it is read. Running totals therefore do not drift over batches,
//! and a batch that changes nothing leaves them as they were.

use num_bigint::{BigInt, Sign};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The exponent of the unit: every finite `f64` is a multiple of 2^-1074.
const UNIT_EXPONENT: i32 = -1074;

/// An exact sum of finite `f64` values. Non-finite values are not summed
/// (the gate's `number` type refuses them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExactSum {
    units: BigInt,
}

impl ExactSum {
    /// Adds `x`; a non-finite `x` is ignored.
    pub fn add(&mut self, x: f64) {
        self.units += units_of(x);
    }

    /// Subtracts `x`; a non-finite `x` is ignored.
    pub fn subtract(&mut self, x: f64) {
        self.units -= units_of(x);
    }

    /// Adds another sum.
    pub fn merge(&mut self, other: &ExactSum) {
        self.units += &other.units;
    }

    /// The sum rounded to the nearest `f64` (ties to even); infinite when
    /// it exceeds the largest `f64`.
    pub fn value(&self) -> f64 {
        let (sign, magnitude) = (self.units.sign(), self.units.magnitude());
        let bits = magnitude.bits();
        let rounded = if bits <= 53 {
            // At most 53 significant bits: exact.
            let m = magnitude.iter_u64_digits().next().unwrap_or(0);
            scale(m as f64, UNIT_EXPONENT)
        } else {
            let shift = bits - 53;
            let top = magnitude >> shift;
            let mut m = top.iter_u64_digits().next().unwrap_or(0);
            let half = magnitude.bit(shift - 1);
            let below_half = magnitude.trailing_zeros().is_some_and(|z| z < shift - 1);
            if half && (below_half || m & 1 == 1) {
                m += 1;
            }
            let exponent = i32::try_from(shift)
                .unwrap_or(i32::MAX)
                .saturating_add(UNIT_EXPONENT);
            scale(m as f64, exponent)
        };
        if sign == Sign::Minus {
            -rounded
        } else {
            rounded
        }
    }
}

/// `x` in units of 2^-1074, exactly; zero for non-finite values.
fn units_of(x: f64) -> BigInt {
    if !x.is_finite() || x == 0.0 {
        return BigInt::default();
    }
    let bits = x.to_bits();
    let exponent_field = ((bits >> 52) & 0x7ff) as i64;
    let fraction = bits & ((1 << 52) - 1);
    // value = mantissa × 2^(exponent - 1075 + 1) for normal numbers,
    // fraction × 2^-1074 for subnormal ones.
    let (mantissa, shift) = if exponent_field == 0 {
        (fraction, 0)
    } else {
        (fraction | (1 << 52), exponent_field - 1)
    };
    let magnitude = BigInt::from(mantissa) << usize::try_from(shift).unwrap_or(0);
    if x < 0.0 { -magnitude } else { magnitude }
}

/// `m × 2^exponent`, in steps that never overflow or underflow early.
fn scale(m: f64, exponent: i32) -> f64 {
    let mut value = m;
    let mut left = exponent;
    while left != 0 {
        let step = left.clamp(-1000, 1000);
        value *= 2f64.powi(step);
        left -= step;
    }
    value
}

impl Serialize for ExactSum {
    /// The units as a decimal string: exact, and the same text for the
    /// same sum.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.units.to_string())
    }
}

impl<'de> Deserialize<'de> for ExactSum {
    /// The units as written by [`Serialize`], or a plain number (running
    /// totals stored before sums were exact).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Units(String),
            Float(f64),
        }
        match Stored::deserialize(deserializer)? {
            Stored::Units(text) => text
                .parse()
                .map(|units| ExactSum { units })
                .map_err(serde::de::Error::custom),
            Stored::Float(x) => {
                let mut sum = ExactSum::default();
                sum.add(x);
                Ok(sum)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sum_of(values: &[f64]) -> ExactSum {
        let mut sum = ExactSum::default();
        for &x in values {
            sum.add(x);
        }
        sum
    }

    #[test]
    fn adding_and_subtracting_a_value_restores_the_sum_bit_for_bit() {
        let mut sum = sum_of(&[295.047879, 0.1, 0.2, 1e-300, 7.5]);
        let before = sum.clone();
        for x in [295.047879, 0.3, 1e300, 5e-324] {
            sum.add(x);
            sum.subtract(x);
        }
        assert_eq!(sum, before);
        assert_eq!(
            serde_json::to_string(&sum).unwrap(),
            serde_json::to_string(&before).unwrap()
        );
    }

    #[test]
    fn the_value_is_the_correctly_rounded_sum() {
        assert_eq!(sum_of(&[0.1, 0.2]).value(), 0.30000000000000004);
        assert_eq!(sum_of(&[1e16, 1.0, -1e16]).value(), 1.0, "no cancellation");
        assert_eq!(sum_of(&[5e-324, 5e-324]).value(), 1e-323);
        assert_eq!(sum_of(&[f64::MAX, f64::MAX]).value(), f64::INFINITY);
        assert_eq!(sum_of(&[-2.5, 1.0]).value(), -1.5);
        assert_eq!(sum_of(&[]).value(), 0.0);
        // Ties to even: 2^53 + 1 lies halfway between 2^53 and 2^53 + 2.
        assert_eq!(
            sum_of(&[9007199254740992.0, 1.0]).value(),
            9007199254740992.0
        );
        assert_eq!(
            sum_of(&[9007199254740994.0, 1.0]).value(),
            9007199254740996.0
        );
    }

    #[test]
    fn stored_sums_read_back_and_old_float_totals_are_read_too() {
        let sum = sum_of(&[295.047879, 12.5]);
        let text = serde_json::to_string(&sum).unwrap();
        assert_eq!(serde_json::from_str::<ExactSum>(&text).unwrap(), sum);
        let old: ExactSum = serde_json::from_str("307.547879").unwrap();
        assert_eq!(old.value(), 307.547879);
    }

    proptest! {
        #[test]
        fn a_sum_of_two_is_what_floating_point_addition_gives(
            a in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO,
            b in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO,
        ) {
            // IEEE addition of two values is their exact sum, correctly rounded.
            prop_assert_eq!(sum_of(&[a, b]).value(), a + b);
        }
    }
}
