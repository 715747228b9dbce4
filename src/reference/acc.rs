//! Mergeable accumulators: one measure of one group, added to, merged
//! across threads and batches, and (for sums, means and counts) subtracted
//! from when a row is replaced.

use crate::fields::cell::Cell;
use crate::fields::exact_sum::ExactSum;
use crate::rules::aggregate::Measure;
use crate::rules::spec::AggFn;

/// A mergeable accumulator of one measure in one group.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Acc {
    /// Rows counted.
    Count(i64),
    /// Exact integer sum.
    SumInt(i128),
    /// Floating-point sum, held exactly.
    SumNum(ExactSum),
    /// Sum and count of non-null values.
    Avg {
        /// Sum of the values, held exactly.
        sum: ExactSum,
        /// How many values.
        n: u64,
    },
    /// Smallest value so far.
    Min(Option<Cell>),
    /// Largest value so far.
    Max(Option<Cell>),
    /// Best `(by, tie_break, value)` so far.
    Argmax(Option<(Cell, Cell, Cell)>),
}

impl Acc {
    /// An empty accumulator for a measure.
    pub fn new(measure: &Measure) -> Acc {
        match measure.agg {
            AggFn::Count => Acc::Count(0),
            AggFn::Sum if measure.integer => Acc::SumInt(0),
            AggFn::Sum => Acc::SumNum(ExactSum::default()),
            AggFn::Avg => Acc::Avg {
                sum: ExactSum::default(),
                n: 0,
            },
            AggFn::Min => Acc::Min(None),
            AggFn::Max => Acc::Max(None),
            AggFn::Argmax => Acc::Argmax(None),
        }
    }

    /// Adds one value (ignored when null, except by `count`).
    pub fn add(&mut self, value: &Cell) {
        match self {
            Acc::Count(n) => *n += 1,
            _ if *value == Cell::Null => {}
            Acc::SumInt(s) => match value {
                Cell::Int(i) => *s += i128::from(*i),
                other => *s += other.as_f64().unwrap_or(0.0) as i128,
            },
            Acc::SumNum(s) => s.add(value.as_f64().unwrap_or(0.0)),
            Acc::Avg { sum, n } => {
                if let Some(x) = value.as_f64() {
                    sum.add(x);
                    *n += 1;
                }
            }
            Acc::Min(best) => {
                if best.as_ref().is_none_or(|b| value < b) {
                    *best = Some(value.clone());
                }
            }
            Acc::Max(best) => {
                if best.as_ref().is_none_or(|b| value > b) {
                    *best = Some(value.clone());
                }
            }
            Acc::Argmax(_) => {}
        }
    }

    /// Offers a candidate to an `argmax`: the larger `by` wins, ties go to
    /// the smaller `tie`.
    pub fn offer(&mut self, by: &Cell, tie: &Cell, value: &Cell) {
        if let Acc::Argmax(best) = self {
            if *by == Cell::Null {
                return;
            }
            let better = match best {
                None => true,
                Some((b, t, _)) => by > b || (by == b && tie < t),
            };
            if better {
                *best = Some((by.clone(), tie.clone(), value.clone()));
            }
        }
    }

    /// Removes one value added earlier. False for `min`, `max` and
    /// `argmax`, which cannot forget a value.
    pub fn subtract(&mut self, value: &Cell) -> bool {
        match self {
            Acc::Count(n) => *n -= 1,
            _ if *value == Cell::Null => {}
            Acc::SumInt(s) => match value {
                Cell::Int(i) => *s -= i128::from(*i),
                other => *s -= other.as_f64().unwrap_or(0.0) as i128,
            },
            Acc::SumNum(s) => s.subtract(value.as_f64().unwrap_or(0.0)),
            Acc::Avg { sum, n } => {
                if let Some(x) = value.as_f64() {
                    sum.subtract(x);
                    *n -= 1;
                }
            }
            Acc::Min(_) | Acc::Max(_) | Acc::Argmax(_) => return false,
        }
        true
    }

    /// Merges another accumulator of the same measure into this one.
    pub fn merge(&mut self, other: &Acc) {
        match (self, other) {
            (Acc::Count(a), Acc::Count(b)) => *a += b,
            (Acc::SumInt(a), Acc::SumInt(b)) => *a += b,
            (Acc::SumNum(a), Acc::SumNum(b)) => a.merge(b),
            (Acc::Avg { sum, n }, Acc::Avg { sum: s2, n: n2 }) => {
                sum.merge(s2);
                *n += n2;
            }
            (acc @ (Acc::Min(_) | Acc::Max(_)), Acc::Min(Some(v)) | Acc::Max(Some(v))) => {
                acc.add(v)
            }
            (acc @ Acc::Argmax(_), Acc::Argmax(Some((by, tie, value)))) => {
                acc.offer(by, tie, value)
            }
            _ => {}
        }
    }

    /// The measure's value.
    pub fn finish(&self) -> Cell {
        match self {
            Acc::Count(n) => Cell::Int(*n),
            // Beyond 64 bits, the exact decimal text, as the stores give it.
            Acc::SumInt(s) => {
                i64::try_from(*s).map_or_else(|_| Cell::Text(s.to_string()), Cell::Int)
            }
            Acc::SumNum(s) => Cell::Num(s.value()),
            Acc::Avg { n: 0, .. } => Cell::Null,
            Acc::Avg { sum, n } => Cell::Num(sum.value() / *n as f64),
            Acc::Min(v) | Acc::Max(v) => v.clone().unwrap_or(Cell::Null),
            Acc::Argmax(best) => best.as_ref().map_or(Cell::Null, |(_, _, v)| v.clone()),
        }
    }
}
