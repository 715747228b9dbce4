//! PostgreSQL store URLs: parsed with the driver and checked against the
//! URL standard, the schema name checked, the password found as libpq
//! finds it (the URL, `PGPASSWORD`, `~/.pgpass`), and a location to show
//! that never holds it.

use std::str::FromStr;
use std::time::Duration;

use postgres::Config;

use super::StoreError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest name PostgreSQL keeps whole (`NAMEDATALEN - 1`); it
/// truncates longer ones silently.
const MAX_IDENTIFIER_BYTES: usize = 63;

/// A parsed `postgres://` URL: the driver's configuration, the schema, and
/// a printable location that never contains the password.
#[derive(Debug)]
pub(super) struct PgUrl {
    pub(super) config: Config,
    pub(super) schema: String,
    pub(super) location: String,
}

impl PgUrl {
    /// The role the URL connects as.
    pub(super) fn user(&self) -> &str {
        self.config.get_user().unwrap_or_default()
    }

    /// The database the URL names.
    pub(super) fn dbname(&self) -> &str {
        self.config.get_dbname().unwrap_or_else(|| self.user())
    }

    /// The schema dqgate keeps its tables in.
    pub(super) fn schema(&self) -> &str {
        &self.schema
    }

    /// The store, without its password.
    pub(super) fn location(&self) -> &str {
        &self.location
    }
}

impl PgUrl {
    /// Parses `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?schema=NAME&...]`.
    /// Without a password in the URL, `PGPASSWORD` and then `~/.pgpass` are
    /// consulted, as libpq does.
    pub(super) fn parse(url: &str) -> Result<PgUrl, StoreError> {
        let redacted = super::redact(url);
        let bad = |why: String| StoreError::Url {
            url: format!("{redacted} ({why})"),
        };
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut schema = "dqgate".to_owned();
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("schema", name)) => schema = name.to_owned(),
                _ => kept.push(pair),
            }
        }
        if !is_identifier(&schema) {
            return Err(bad(format!(
                "schema {schema:?} must be letters, digits and _"
            )));
        }
        if schema.len() > MAX_IDENTIFIER_BYTES {
            return Err(bad(format!(
                "schema {schema:?} is {} bytes long; PostgreSQL keeps only the first {MAX_IDENTIFIER_BYTES}, so two longer names could share a schema",
                schema.len()
            )));
        }
        let rebuilt = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let mut config = Config::from_str(&rebuilt).map_err(|e| bad(e.to_string()))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let user = config
            .get_user()
            .map(str::to_owned)
            .unwrap_or_else(|| std::env::var("USER").unwrap_or_default());
        if config.get_user().is_none() {
            config.user(&user);
        }
        let host = config
            .get_hosts()
            .first()
            .map(|h| match h {
                postgres::config::Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .unwrap_or_else(|| "localhost".into());
        let port = config.get_ports().first().copied().unwrap_or(5432);
        if !read_alike(url, &config, &user) {
            return Err(bad(
                "its user name, password or host reads differently to different URL parsers; percent-encode '@', ':', '/', '?' and '#' in the user name and password (for example %40 for @)".into(),
            ));
        }
        let dbname = config.get_dbname().unwrap_or(&user).to_owned();
        if config.get_password().is_none() {
            if let Ok(password) = std::env::var("PGPASSWORD") {
                config.password(password);
            } else if let Some(password) = pgpass_lookup(&host, port, &dbname, &user) {
                config.password(password);
            }
        }
        Ok(PgUrl {
            location: format!("postgres://{user}@{host}:{port}/{dbname}?schema={schema}"),
            config,
            schema,
        })
    }
}

/// Whether the driver read `url`'s user and host as the URL standard does.
/// Where they differ (an unencoded `@` in a password, say), a part of the
/// password may have been taken for the host and shown in messages.
fn read_alike(url: &str, config: &Config, user: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let username = percent_encoding::percent_decode_str(parsed.username()).decode_utf8_lossy();
    if !username.is_empty() && username != user {
        return false;
    }
    match config.get_hosts() {
        [postgres::config::Host::Tcp(host)] => {
            parsed.host_str().map(|h| h.trim_matches(['[', ']'])) == Some(host.as_str())
        }
        _ => true,
    }
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Finds a password in `~/.pgpass` (or `PGPASSFILE`): lines of
/// `host:port:database:user:password`, `*` matching anything, `\` escaping.
fn pgpass_lookup(host: &str, port: u16, dbname: &str, user: &str) -> Option<String> {
    let path = std::env::var_os("PGPASSFILE")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".pgpass")))?;
    let text = std::fs::read_to_string(path).ok()?;
    pgpass_match(&text, host, port, dbname, user)
}

fn pgpass_match(text: &str, host: &str, port: u16, dbname: &str, user: &str) -> Option<String> {
    let port = port.to_string();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields = Vec::new();
        let mut current = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => current.extend(chars.next()),
                ':' if fields.len() < 4 => fields.push(std::mem::take(&mut current)),
                c => current.push(c),
            }
        }
        fields.push(current);
        if fields.len() != 5 {
            continue;
        }
        let matches = |pattern: &str, value: &str| pattern == "*" || pattern == value;
        if matches(&fields[0], host)
            && matches(&fields[1], &port)
            && matches(&fields[2], dbname)
            && matches(&fields[3], user)
        {
            return Some(fields[4].clone());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_parsed_and_never_shown_with_their_password() {
        let url = PgUrl::parse("postgres://ann:s3cret@db.example:6543/movies?schema=gate").unwrap();
        assert_eq!(
            url.location,
            "postgres://ann@db.example:6543/movies?schema=gate"
        );
        assert_eq!(url.config.get_password(), Some(&b"s3cret"[..]));
        assert_eq!(url.config.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        let err = PgUrl::parse("postgres://ann:s3cret@h/db?schema=x;drop")
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("s3cret") && err.contains("must be letters"),
            "{err}"
        );
    }

    #[test]
    fn schema_names_the_server_would_truncate_are_refused() {
        let longest = "s".repeat(MAX_IDENTIFIER_BYTES);
        assert!(PgUrl::parse(&format!("postgres://ann@h/db?schema={longest}")).is_ok());
        let err = PgUrl::parse(&format!("postgres://ann@h/db?schema={longest}x"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is 64 bytes long"), "{err}");
    }

    #[test]
    fn reads_pgpass_lines_with_wildcards_and_escapes() {
        let text =
            "# comment\nother:5432:*:ann:nope\n*:5432:movies:ann:pa\\:ss\n*:*:*:*:fallback\n";
        assert_eq!(
            pgpass_match(text, "db", 5432, "movies", "ann").as_deref(),
            Some("pa:ss")
        );
        assert_eq!(
            pgpass_match(text, "db", 5433, "x", "bob").as_deref(),
            Some("fallback")
        );
        assert_eq!(pgpass_match("h:1:d:u\n", "h", 1, "d", "u"), None);
    }
}
