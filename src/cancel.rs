//! Ctrl-C as a request to stop the work in hand. The shell's handler sets it (and interrupts
//! DuckDB); long loops in Rust (reading an import, writing an export) check it and fail
//! with "interrupted", so their transaction rolls back and the shell goes on.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Result, bail};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Ask the running work to stop.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Forget an earlier request (before the next piece of work starts).
pub fn reset() {
    REQUESTED.store(false, Ordering::SeqCst);
}

/// Fail when a stop was asked for.
pub fn check() -> Result<()> {
    if REQUESTED.load(Ordering::Relaxed) {
        bail!("interrupted (Ctrl-C); nothing was changed");
    }
    Ok(())
}
