//! Field values: typed values, the list literals of multi-valued fields,
//! and exact sums of floats.

pub mod cell;
pub(crate) mod exact_sum;
pub mod list_layout;
pub mod literal;
pub mod value;
