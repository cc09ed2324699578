//! Diagnostic tracing, off unless asked for: `--verbose` (debug, twice: trace) or
//! `KEYWARD_LOG` (an `EnvFilter` directive), written to stderr so `--json` output stays
//! clean, or to `KEYWARD_LOG_FILE` (0600, appended) when that is set. The dashboard owns the
//! terminal, so while it runs logs go to the file or nowhere.
//!
//! Events carry ids, paths, statuses, steps and timings; never a secret or a header value.
//! A bare level (`debug`) applies to keyward's own events only: other crates' events were not
//! written with redaction in mind, so they appear only when named (`keyward=debug,h2=trace`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::SubscriberExt as _;

/// The environment variable holding a filter directive.
pub const LOG_ENV: &str = "KEYWARD_LOG";
/// The environment variable naming a file to append logs to.
pub const LOG_FILE_ENV: &str = "KEYWARD_LOG_FILE";

/// Where log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// Standard error.
    Stderr,
    /// Appended to this file (created 0600 if missing, never through a link).
    File(PathBuf),
    /// Nowhere: the terminal is taken and no file was asked for.
    Nowhere,
}

impl Sink {
    /// Where logs go: the file if one is named, else stderr unless the terminal is taken.
    pub fn choose(file: Option<PathBuf>, terminal_taken: bool) -> Sink {
        match file {
            Some(path) => Sink::File(path),
            None if terminal_taken => Sink::Nowhere,
            None => Sink::Stderr,
        }
    }
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// `KEYWARD_LOG` is not a filter directive.
    #[error("{LOG_ENV} `{directive}`: not a filter directive such as `debug` or `keyward=trace`")]
    BadDirective {
        /// The directive, made terminal-safe.
        directive: String,
    },
    /// The log file could not be opened.
    #[error("{}: cannot open the log file: {detail}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong, in words.
        detail: String,
    },
}

/// The filter directive asked for: `KEYWARD_LOG` if set and not empty, else one level per
/// `-v` (debug, then trace); `None` when nothing was asked for.
pub fn directive(verbose: u8, env: Option<&str>) -> Option<String> {
    match env.map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => Some(scoped(d)),
        None => match verbose {
            0 => None,
            1 => Some("keyward=debug".to_string()),
            _ => Some("keyward=trace".to_string()),
        },
    }
}

/// `directive` with every bare level turned into a level for keyward alone.
fn scoped(directive: &str) -> String {
    directive
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| match part.parse::<LevelFilter>() {
            Ok(level) => format!("keyward={level}"),
            Err(_) => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Installs the global subscriber for `directive` writing to `sink`. Nothing is installed
/// for [`Sink::Nowhere`]. Call once, before any event worth seeing.
pub fn install(directive: &str, sink: Sink) -> Result<(), LoggingError> {
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::OFF.into())
        .parse(directive)
        .map_err(|_| LoggingError::BadDirective {
            directive: crate::text::terminal_safe(directive).into_owned(),
        })?;
    let layer = tracing_subscriber::fmt::layer().with_ansi(false);
    // Not `try_init`: that would also bridge the `log` crate, whose events (reqwest's,
    // hyper's) keyward cannot vouch for.
    let installed = match sink {
        Sink::Nowhere => return Ok(()),
        Sink::Stderr => tracing::subscriber::set_global_default(
            tracing_subscriber::registry()
                .with(filter)
                .with(layer.with_writer(std::io::stderr)),
        ),
        Sink::File(path) => {
            let file = open_log(&path)?;
            tracing::subscriber::set_global_default(
                tracing_subscriber::registry()
                    .with(filter)
                    .with(layer.with_writer(Mutex::new(file))),
            )
        }
    };
    // Already installed (a test harness, a second call): the first one stays.
    let _ = installed;
    Ok(())
}

fn open_log(path: &Path) -> Result<std::fs::File, LoggingError> {
    crate::fsutil::open_in_place(path, crate::fsutil::InPlace::ReadAppend)
        .map(|(file, _)| file)
        .map_err(|e| LoggingError::File {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })
}

/// A path as it may appear in an event: made terminal-safe.
pub fn shown(path: &Path) -> impl fmt::Display + '_ {
    Shown(path)
}

struct Shown<'a>(&'a Path);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::text::terminal_safe(&self.0.display().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_asked_means_no_logging() {
        assert_eq!(directive(0, None), None);
        assert_eq!(directive(0, Some("  ")), None);
    }

    #[test]
    fn each_verbose_flag_adds_a_level() {
        assert_eq!(directive(1, None).as_deref(), Some("keyward=debug"));
        assert_eq!(directive(2, None).as_deref(), Some("keyward=trace"));
        assert_eq!(directive(5, None).as_deref(), Some("keyward=trace"));
    }

    #[test]
    fn the_environment_wins_and_a_bare_level_means_keyward_only() {
        assert_eq!(
            directive(2, Some("debug")).as_deref(),
            Some("keyward=debug")
        );
        assert_eq!(
            directive(0, Some("warn,h2=trace")).as_deref(),
            Some("keyward=warn,h2=trace")
        );
        assert_eq!(
            directive(0, Some("keyward::store=trace")).as_deref(),
            Some("keyward::store=trace")
        );
    }

    #[test]
    fn a_bad_directive_is_named_safely() {
        let e = install("keyward=\x1b[2Jloud", Sink::Nowhere).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("KEYWARD_LOG `"), "{text}");
        assert!(!text.contains('\x1b'), "{text}");
    }

    #[test]
    fn the_dashboard_logs_only_to_a_file() {
        assert_eq!(Sink::choose(None, true), Sink::Nowhere);
        assert_eq!(Sink::choose(None, false), Sink::Stderr);
        let file = PathBuf::from("/tmp/k.log");
        assert_eq!(Sink::choose(Some(file.clone()), true), Sink::File(file));
    }
}
