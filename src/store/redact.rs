//! Store URLs as they may be shown: without passwords, in any form.
//!
//! A URL is parsed into its parts (the `url` crate, WHATWG rules) and shown
//! rebuilt from them, with the password and the values of secret query
//! parameters replaced by `***`. A URL that does not parse, or whose rebuilt
//! form would still contain something that may be a secret (a password
//! holding an unencoded `@`, `/` or `?` is read differently by different
//! parsers), is shown as its scheme alone.

/// Query parameters whose values are never shown.
const SECRET_PARAMETERS: &[&str] = &[
    "password",
    "passfile",
    "sslpassword",
    "sslkey",
    "sslcert",
    "token",
    "secret",
];

/// The URL with every part that may be secret replaced, for messages.
pub fn redact(url: &str) -> String {
    let scheme = url
        .split_once("://")
        .map_or("", |(scheme, _)| scheme)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        .collect::<String>();
    let hidden = if scheme.is_empty() {
        "(a store URL; not shown, it may hold a password)".to_owned()
    } else {
        format!("{scheme}://*** (the rest is not shown: it may hold a password)")
    };
    let Ok(parsed) = url::Url::parse(url) else {
        return hidden;
    };
    let mut shown = format!("{}://", parsed.scheme());
    if !parsed.username().is_empty() {
        shown.push_str(parsed.username());
        if parsed.password().is_some() {
            shown.push_str(":***");
        }
        shown.push('@');
    }
    if let Some(host) = parsed.host_str() {
        shown.push_str(host);
    }
    if let Some(port) = parsed.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown.push_str(parsed.path());
    let pairs: Vec<String> = parsed
        .query_pairs()
        .map(|(key, value)| {
            if SECRET_PARAMETERS.contains(&key.to_ascii_lowercase().as_str()) {
                format!("{key}=***")
            } else {
                format!("{key}={value}")
            }
        })
        .collect();
    if !pairs.is_empty() {
        shown.push('?');
        shown.push_str(&pairs.join("&"));
    }
    let leaks = secrets(url, &parsed)
        .iter()
        .any(|secret| shown.contains(secret.as_str()));
    if leaks { hidden } else { shown }
}

/// Everything in `url` that any reader might take for a secret: the parsed
/// password and secret parameters, and the text between the user name and
/// each `@` (where a password holding an unencoded `@` would end).
fn secrets(url: &str, parsed: &url::Url) -> Vec<String> {
    let mut found: Vec<String> = parsed.password().map(str::to_owned).into_iter().collect();
    found.extend(parsed.query_pairs().filter_map(|(key, value)| {
        SECRET_PARAMETERS
            .contains(&key.to_ascii_lowercase().as_str())
            .then(|| value.into_owned())
    }));
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    if let Some(colon) = rest.find(':') {
        for (at, _) in rest.match_indices('@').filter(|(at, _)| *at > colon) {
            found.push(rest[colon + 1..at].to_owned());
        }
    }
    for raw in url.split(['?', '&']) {
        if let Some((key, value)) = raw.split_once('=')
            && SECRET_PARAMETERS.contains(&key.to_ascii_lowercase().as_str())
        {
            found.push(value.to_owned());
        }
    }
    found.retain(|secret| !secret.is_empty());
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every form a password reaches dqgate in; `s3cr` is in every password.
    const FORMS: &[&str] = &[
        "postgres://ann:s3cret@db.example:6543/movies?schema=gate",
        "postgresql://ann:s3cret@db.example/movies",
        "postgres://ann:s3cr%40t@db/movies",
        "postgres://ann:s3cr@t@db/movies",
        "postgres://ann:s3cr:t@db/movies",
        "postgres://ann:s3cr/t@db/movies",
        "postgres://ann:s3cr?t@db/movies",
        "postgres://ann:s3cr#t@db/movies",
        "postgres://ann@db/movies?password=s3cret",
        "postgres://ann@db/movies?sslmode=require&password=s3cr@t&schema=x;drop",
        "postgres://ann@db/movies?PassWord=s3cret",
        "postgres://ann@db/movies?passfile=/home/ann/s3cret",
        "postgres://db/movies?user=ann&password=s3cr%26t",
        "Postgres://ann:s3cret@db/movies",
        "POSTGRES://ann:s3cret@db/movies",
        "pgsql://ann:s3cret@db/movies",
        "postgres:/ann:s3cret@db/movies",
        "postgres//ann:s3cret@db/movies",
        "ann:s3cret@db/movies",
        "postgres://:s3cret@db/movies",
        "postgres://ann:s3cret@",
        "postgres://ann:s3cret@[::1/movies",
        "postgres://ann:s3cret@db:99999/movies",
        "sqlite://ann:s3cret@db",
    ];

    #[test]
    fn no_form_of_url_shows_its_password() {
        for url in FORMS {
            let shown = redact(url);
            assert!(
                !shown.contains("s3cr") && !shown.contains("3cr"),
                "{url} -> {shown}"
            );
        }
    }

    #[test]
    fn what_is_not_secret_is_still_shown() {
        assert_eq!(
            redact("postgres://ann:s3cret@db.example:6543/movies?schema=gate"),
            "postgres://ann:***@db.example:6543/movies?schema=gate"
        );
        assert_eq!(
            redact("postgres://ann@db/movies?password=x&schema=gate"),
            "postgres://ann@db/movies?password=***&schema=gate"
        );
        assert_eq!(redact("sqlite://dqgate.db"), "sqlite://dqgate.db");
        assert!(redact("pgsql://ann:s3cret@db/m").starts_with("pgsql://ann:***@db/m"));
    }
}
