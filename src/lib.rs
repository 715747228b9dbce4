//! dqgate: a data-quality gate for CSV feeds.
//!
//! The modules follow the stages a file goes through, lowest first; a
//! stage uses only stages above it in this list (`.ci/cycles.py` fails CI
//! when two stages import each other):
//!
//! 1. [`text`]: text from outside made safe to print (used everywhere).
//! 2. [`fields`]: typed values, list literals, cells of aggregate outputs.
//! 3. [`rules`]: a rule file loaded and compiled into a `RuleSet`.
//! 4. [`read`]: bytes to records with their lines, on every thread, and the
//!    file's digest.
//! 5. [`report`]: the one `Report` value (the ledger's rows included) and its
//!    renderings: table, JSON, Markdown, GitHub, JUnit.
//! 6. [`gate`]: the verdict, its reasons and the exit code.
//! 7. [`check`]: one pass of every record through the rules: the header,
//!    the row checks, uniqueness, the tally, the quarantine and accepted
//!    outputs.
//! 8. [`store`]: the declared model's tables, staging, read-only audit
//!    queries, the ledger and the running totals, written once over a
//!    driver for SQLite and one for PostgreSQL.
//! 9. [`reference`](mod@reference): the business figures of the accepted rows, computed in
//!    HashMaps, and the subset that is compared.
//! 10. [`diff`]: reference against store, key by key (`dqgate diff`).
//! 11. [`run`]: write, audit, publish (`dqgate run`).
//! 12. The edge: [`profile`] (`dqgate init`), [`interrupt`] (signals),
//!     [`project`] (the project file, `dqgate.toml`) and [`cli`] (the
//!     command line).

pub mod check;
pub mod cli;
pub mod diff;
pub mod fields;
pub(crate) mod gate;
pub mod interrupt;
pub(crate) mod profile;
pub(crate) mod project;
pub mod read;
pub mod reference;
pub(crate) mod report;
pub mod rules;
pub(crate) mod run;
pub mod store;
pub mod text;
