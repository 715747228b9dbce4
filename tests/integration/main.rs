#![allow(missing_docs)] // test crate: the tests document themselves
//! Integration tests: every test drives the real `dqgate` binary on fixtures
//! in `tests/fixtures/` (and, where present, the real data in ../shared).

mod harness;

// Three real feeds, each with its model: promoted, audited, bugs caught.
mod feeds;
// The movies fixtures cut from real TMDB data: verdicts, accounting, outputs.
mod check;
// Reference aggregates against the SQLite store, planted query bugs.
mod diff;
// Values at the limits: stored alike on every engine, or quarantined.
mod edge_values;
// Markdown and GitHub Actions output.
mod formats;
// frictionless-py's test expectations: rows read, row and label errors.
mod frictionless;
// The hostile corpus (tests/fixtures/hostile, plus 64 MiB and 10 MiB cases
// made on the fly): every case has its expected outcome.
mod malformed;
// `run`: promotion, ledger, idempotency, policies, atomicity under kills.
mod promote;
// Other projects' CSV suites: dqgate reads what they expect.
mod peer_suites;
// Rule files: error reporting and `dqgate rules check`.
mod rule_files;
// What a rule file or a record cannot make dqgate do.
mod security;
// The full files in ../shared/data, skipped with a message when absent.
mod shared_data;
// One thread or many: the same reports and outputs.
mod threads;
