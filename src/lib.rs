//! dqgate: a data-quality gate for CSV feeds.
//!
//! The pipeline: [`rules`] loads and compiles a rule file; [`input`] reads
//! the CSV in chunks with raw bytes and true line numbers, hashing them with
//! [`digest`]; [`header`] binds the rules to the file's header; [`check`]
//! runs every record through the compiled rules ([`row`]) on worker threads
//! ([`pipeline`]), then in file order through [`unique`] to the accepted or
//! quarantined output ([`output`]) while [`tally`] counts; [`report`]
//! renders the result as a table or JSON.

pub mod blocks;
pub mod cell;
pub mod check;
pub mod cli;
pub mod compare;
pub mod diff;
pub mod digest;
pub mod exact_sum;
pub mod gate;
pub mod header;
pub mod input;
pub mod int_index;
pub mod interrupt;
pub mod list_layout;
pub mod literal;
pub mod model;
pub mod output;
pub mod pipeline;
pub mod profile;
pub mod promote;
pub mod reference;
pub mod report;
pub mod row;
pub mod rules;
pub mod split;
pub mod store;
pub mod subset;
pub mod tally;
pub mod unique;
pub mod value;
