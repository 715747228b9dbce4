//! The project file, `dqgate.toml`: where a project keeps its rule file,
//! store and output folder, found like other tools find their
//! configuration (in the current folder or the nearest parent that has
//! one). Command-line flags come first, then environment variables
//! (`DQGATE_RULES`, `DQGATE_STORE`), then the project file, then the
//! built-in defaults (a store `sqlite://dqgate.db` and outputs in
//! `dqgate-out`; there is no default rule file).
//!
//! ```toml
//! rules = "rules/movies.toml"     # paths are relative to this file
//! store = "sqlite://dqgate.db"
//! out = "dqgate-out"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The project file's name.
pub(crate) const FILE_NAME: &str = "dqgate.toml";

/// The store when nothing names one.
const DEFAULT_STORE: &str = "sqlite://dqgate.db";

/// The output folder when nothing names one.
const DEFAULT_OUT: &str = "dqgate-out";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectSpec {
    rules: Option<PathBuf>,
    store: Option<String>,
    out: Option<PathBuf>,
}

/// A project file, read.
#[derive(Debug)]
pub(crate) struct Project {
    /// Where it is.
    path: PathBuf,
    spec: ProjectSpec,
}

/// What went wrong finding a rule file or reading the project file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProjectError {
    /// The project file could not be read or parsed.
    #[error("project file {}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Nothing names a rule file.
    #[error(
        "no rule file: give --rules FILE, set DQGATE_RULES, or name one in a {FILE_NAME} (looked for it in {}); `dqgate init DATA.csv > rules.toml` writes a starting rule file",
        looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NoRules {
        /// The folders searched for a project file.
        looked: Vec<PathBuf>,
    },
}

impl Project {
    /// The project file of `start` or its nearest parent that has one.
    pub(crate) fn find(start: &Path) -> Result<Option<Project>, ProjectError> {
        for dir in start.ancestors() {
            let path = dir.join(FILE_NAME);
            if path.is_file() {
                return Project::read(&path).map(Some);
            }
        }
        Ok(None)
    }

    fn read(path: &Path) -> Result<Project, ProjectError> {
        let invalid = |message: String| ProjectError::Invalid {
            path: path.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
        let spec: ProjectSpec = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        Ok(Project {
            path: path.to_owned(),
            spec,
        })
    }

    fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

/// Where dqgate looks for its settings, from one starting folder.
#[derive(Debug)]
pub(crate) struct Settings {
    start: PathBuf,
    project: Option<Project>,
}

impl Settings {
    /// The settings seen from `start` (the current folder).
    pub(crate) fn from(start: &Path) -> Result<Settings, ProjectError> {
        Ok(Settings {
            start: start.to_owned(),
            project: Project::find(start)?,
        })
    }

    /// The rule file: the flag (or `DQGATE_RULES`, which clap reads into
    /// it), else the project file's, else an error saying where it looked.
    pub(crate) fn rules(&self, flag: Option<&Path>) -> Result<PathBuf, ProjectError> {
        if let Some(path) = flag {
            return Ok(path.to_owned());
        }
        if let Some(project) = &self.project
            && let Some(rules) = &project.spec.rules
        {
            return Ok(project.dir().join(rules));
        }
        Err(ProjectError::NoRules {
            looked: self.start.ancestors().map(Path::to_owned).collect(),
        })
    }

    /// The store URL: the flag (or `DQGATE_STORE`), else the project
    /// file's (a relative SQLite path is relative to the project file),
    /// else `sqlite://dqgate.db`.
    pub(crate) fn store(&self, flag: Option<&str>) -> String {
        if let Some(url) = flag {
            return url.to_owned();
        }
        match &self.project {
            Some(project) if project.spec.store.is_some() => {
                let url = project.spec.store.clone().unwrap_or_default();
                match url.strip_prefix("sqlite://") {
                    Some(path) if !path.is_empty() && Path::new(path).is_relative() => {
                        format!("sqlite://{}", project.dir().join(path).display())
                    }
                    _ => url,
                }
            }
            _ => DEFAULT_STORE.to_owned(),
        }
    }

    /// The output folder: the flag, else the project file's, else `dqgate-out`.
    pub(crate) fn out(&self, flag: Option<&Path>) -> PathBuf {
        if let Some(path) = flag {
            return path.to_owned();
        }
        match &self.project {
            Some(project) if project.spec.out.is_some() => project.dir().join(
                project
                    .spec
                    .out
                    .as_deref()
                    .unwrap_or(Path::new(DEFAULT_OUT)),
            ),
            _ => PathBuf::from(DEFAULT_OUT),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_come_first_then_the_nearest_project_file_then_the_defaults() {
        let root = tempfile::tempdir().unwrap();
        let nested = root.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        let bare = Settings::from(&nested).unwrap();
        let err = bare.rules(None).unwrap_err().to_string();
        assert!(err.contains("no rule file: give --rules FILE"), "{err}");
        assert!(err.contains(&nested.display().to_string()), "{err}");
        assert!(err.contains("dqgate init"), "{err}");
        assert_eq!(bare.store(None), "sqlite://dqgate.db");
        assert_eq!(bare.out(None), PathBuf::from("dqgate-out"));

        std::fs::write(
            root.path().join(FILE_NAME),
            "rules = \"rules/feed.toml\"\nstore = \"sqlite://store/feed.db\"\nout = \"reports\"\n",
        )
        .unwrap();
        let found = Settings::from(&nested).unwrap();
        assert_eq!(
            found.rules(None).unwrap(),
            root.path().join("rules/feed.toml")
        );
        assert_eq!(
            found.store(None),
            format!("sqlite://{}", root.path().join("store/feed.db").display())
        );
        assert_eq!(found.out(None), root.path().join("reports"));
        assert_eq!(
            found.rules(Some(Path::new("x.toml"))).unwrap(),
            PathBuf::from("x.toml")
        );
        assert_eq!(found.store(Some("postgres://u@h/db")), "postgres://u@h/db");

        std::fs::write(root.path().join(FILE_NAME), "rulez = \"x\"\n").unwrap();
        let err = Settings::from(&nested).unwrap_err().to_string();
        assert!(err.contains("unknown field `rulez`"), "{err}");
    }
}
