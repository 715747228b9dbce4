//! Interrupted runs leave no debris: the temporary output files a run has
//! open are registered here, and on SIGINT or SIGTERM they are removed
//! before the process exits with the shell's code for that signal (130 or
//! 143). Files already renamed into place are complete and stay.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

static PENDING: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

fn pending() -> MutexGuard<'static, Option<HashSet<PathBuf>>> {
    PENDING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Records a temporary file to remove if the run is interrupted.
pub(crate) fn register(path: &Path) {
    pending()
        .get_or_insert_with(HashSet::new)
        .insert(path.to_owned());
}

/// Forgets a temporary file: it was renamed into place or removed.
pub(crate) fn forget(path: &Path) {
    if let Some(set) = pending().as_mut() {
        set.remove(path);
    }
}

/// Starts the thread that cleans up on SIGINT and SIGTERM. Called once by
/// the binary; a library user keeps its own signal handling.
pub fn install() -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("dqgate-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                // Held until exit: no new temporary file is registered
                // (and so left behind) after the sweep.
                let mut guard = pending();
                for path in guard.take().unwrap_or_default() {
                    let _ = std::fs::remove_file(path);
                }
                std::process::exit(128 + signal);
            }
        })?;
    Ok(())
}
