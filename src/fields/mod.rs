//! Field values: typed values and the list literals of multi-valued fields.

pub mod cell;
pub mod list_layout;
pub mod literal;
pub mod value;
