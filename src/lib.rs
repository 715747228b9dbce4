//! dqgate: a data-quality gate for CSV feeds.
//!
//! The pipeline: [`rules`] loads and compiles a rule file; [`input`] streams
//! the CSV with raw bytes and true line numbers; [`check`] runs every record
//! through the compiled rules ([`row`]) and sends it to the accepted or
//! quarantined output ([`output`]) while [`tally`] counts; [`report`] renders
//! the result as a table or JSON.

pub mod literal;
pub mod input;
pub mod rules;
pub mod value;
