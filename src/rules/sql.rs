//! Static checks of query files: an aggregate's query must be one read-only
//! query. The stores enforce this again when they run it (SQLite through an
//! authorizer and `query_only`, PostgreSQL in a read-only transaction); this
//! check tells the author when the rule file is loaded, without a store.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use sqlparser::ast::{Statement, visit_statements};
use sqlparser::dialect::{Dialect, GenericDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

/// Why a query file is refused, or `None` when it is one read-only query or
/// when the parser cannot read it (an engine-specific syntax it does not
/// know): what cannot be told without a store is left to the store.
///
/// `engine` picks the dialect (`sqlite`, `postgres`); `None` tries each.
pub(crate) fn not_a_read_only_query(sql: &str, engine: Option<&str>) -> Option<String> {
    let dialects: Vec<Box<dyn Dialect>> = match engine {
        Some("sqlite") => vec![Box::new(SQLiteDialect {})],
        Some("postgres") => vec![Box::new(PostgreSqlDialect {})],
        _ => vec![
            Box::new(GenericDialect {}),
            Box::new(SQLiteDialect {}),
            Box::new(PostgreSqlDialect {}),
        ],
    };
    let statements = dialects
        .iter()
        .find_map(|dialect| Parser::parse_sql(dialect.as_ref(), sql).ok())?;
    match statements.as_slice() {
        [] => Some("it holds no statement; an aggregate's query must be one SELECT".into()),
        [Statement::Query(_)] => modifying_statement(&statements[0]).map(|kind| {
            format!("its query contains {kind}, which changes data; audit queries may only read")
        }),
        [one] => Some(format!(
            "it is {}, not a query; audit queries may only read (one SELECT or WITH ... SELECT)",
            statement_kind(one)
        )),
        many => Some(format!(
            "it holds {} statements; an aggregate's query must be exactly one SELECT",
            many.len()
        )),
    }
}

/// The first statement nested in `query` (a data-modifying CTE, say).
fn modifying_statement(query: &Statement) -> Option<String> {
    let mut nested = None;
    let _ = visit_statements(query, |statement| {
        if std::ptr::eq(statement, query) {
            return ControlFlow::Continue(());
        }
        nested = Some(statement_kind(statement));
        ControlFlow::Break(())
    });
    nested
}

/// The statement's first keywords, for messages: `an INSERT`, `a DROP`.
fn statement_kind(statement: &Statement) -> String {
    let text = statement.to_string();
    let keyword: String = text
        .split_whitespace()
        .next()
        .unwrap_or("statement")
        .chars()
        .filter(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_uppercase();
    let article = if keyword.starts_with(['A', 'E', 'I', 'O', 'U']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {keyword} statement")
}

/// Reads a query file, confined to the rule file's folder: a rule file
/// cannot make dqgate read anything outside it. The file must hold one
/// read-only query (for `engine`'s dialect, or any when `None`).
pub(crate) fn read_query(
    base_dir: &Path,
    relative: &str,
    engine: Option<&str>,
) -> Result<(String, PathBuf), String> {
    let candidate = base_dir.join(relative);
    let base = base_dir.canonicalize().map_err(|e| {
        format!(
            "cannot resolve the rule file's folder {}: {e}",
            base_dir.display()
        )
    })?;
    let resolved = candidate
        .canonicalize()
        .map_err(|e| format!("cannot read query file {}: {e}", candidate.display()))?;
    if !resolved.starts_with(&base) {
        return Err(format!(
            "query file {} is outside the rule file's folder {}",
            candidate.display(),
            base_dir.display()
        ));
    }
    let sql = std::fs::read_to_string(&resolved)
        .map_err(|e| format!("cannot read query file {}: {e}", candidate.display()))?;
    if let Some(why) = super::sql::not_a_read_only_query(&sql, engine) {
        return Err(format!(
            "query file {} is refused: {why}",
            candidate.display()
        ));
    }
    Ok((sql, candidate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_queries_are_read_only() {
        for entry in std::fs::read_dir("rules/queries").unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "sql") {
                let sql = std::fs::read_to_string(&path).unwrap();
                for engine in [None, Some("sqlite"), Some("postgres")] {
                    assert_eq!(
                        not_a_read_only_query(&sql, engine),
                        None,
                        "{}",
                        path.display()
                    );
                }
            }
        }
    }

    #[test]
    fn statements_that_write_or_are_not_one_query_are_refused() {
        let cases = [
            ("DROP TABLE movies;", "a DROP statement"),
            ("DELETE FROM movies RETURNING id", "a DELETE statement"),
            ("SELECT 1; DELETE FROM dq_batches", "2 statements"),
            (
                "WITH gone AS (DELETE FROM movie_sources RETURNING *) SELECT count(*) FROM gone",
                "contains a DELETE statement",
            ),
            (
                "WITH x AS (UPDATE dq_batches SET status = 'x' RETURNING 1) SELECT * FROM x",
                "contains an UPDATE statement",
            ),
            ("PRAGMA query_only = 0", "a PRAGMA statement"),
            ("COMMIT", "a COMMIT statement"),
            ("ATTACH DATABASE 'x.db' AS x", "an ATTACH statement"),
            ("-- only a comment", "no statement"),
        ];
        for (sql, needle) in cases {
            let why = not_a_read_only_query(sql, None).unwrap_or_else(|| panic!("{sql}"));
            assert!(why.contains(needle), "{sql}: {why}");
        }
    }

    #[test]
    fn what_the_parser_cannot_read_is_left_to_the_store() {
        assert_eq!(not_a_read_only_query("SELECT FROM WHERE ((", None), None);
    }
}
