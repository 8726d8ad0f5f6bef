//! Ctrl-C as a request to stop the work in hand. The shell's handler sets it (and interrupts
//! DuckDB); long loops in Rust (reading an import, writing an export) check it and fail
//! with "interrupted", so their transaction rolls back and the shell goes on. The server
//! beside `lsdb start`'s shell runs its imports and exports as *served* work, which only
//! the server's own stop (SIGTERM, or Ctrl-C to `lsdb serve`) interrupts: a Ctrl-C that
//! cancels the shell's query leaves an upload that runs meanwhile alone.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Result, bail};

/// The shell's Ctrl-C.
static REQUESTED: AtomicBool = AtomicBool::new(false);
/// The server is stopping.
static STOPPING: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// This thread does the server's work.
    static IS_SERVED: Cell<bool> = const { Cell::new(false) };
}

/// Ask the running work to stop (the shell's Ctrl-C).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Ctrl-C for a command that stops at safe points (push, pull): the first asks the work to
/// stop there, a second ends the process at once (the store's transactions keep it whole;
/// push finds what it sent by the tasks' marks).
pub fn install_handler() {
    let _ = ctrlc::set_handler(|| {
        if REQUESTED.swap(true, Ordering::SeqCst) {
            eprintln!("lsdb: stopped (second Ctrl-C)");
            std::process::exit(130);
        }
        eprintln!("lsdb: stopping at the next safe point (Ctrl-C again to stop now)");
    });
}

/// Forget an earlier request (before the next piece of work starts).
pub fn reset() {
    REQUESTED.store(false, Ordering::SeqCst);
}

/// The server is stopping: all work stops, served work included.
pub fn stop() {
    STOPPING.store(true, Ordering::SeqCst);
}

/// Whether this thread does the server's work.
pub fn is_served() -> bool {
    IS_SERVED.with(Cell::get)
}

/// Mark this thread as doing the server's work (or not); threads an import starts take the
/// mark of the thread that started them.
pub fn set_served(is_served: bool) {
    IS_SERVED.with(|c| c.set(is_served));
}

/// Fail when a stop was asked for.
pub fn check() -> Result<()> {
    let is_requested = REQUESTED.load(Ordering::Relaxed);
    if stops(is_requested, STOPPING.load(Ordering::Relaxed), is_served()) {
        bail!("interrupted (Ctrl-C); nothing was changed");
    }
    Ok(())
}

/// The rule: the server's stop stops everything; the shell's Ctrl-C all but served work.
fn stops(is_requested: bool, is_stopping: bool, is_served: bool) -> bool {
    is_stopping || (is_requested && !is_served)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shells_ctrl_c_leaves_served_work_alone() {
        assert!(stops(true, false, false));
        assert!(!stops(true, false, true));
        assert!(stops(false, true, true) && stops(false, true, false));
        assert!(!stops(false, false, false));
        // The mark is the thread's own.
        set_served(true);
        let other = std::thread::spawn(is_served).join().unwrap();
        assert!(is_served() && !other);
        set_served(false);
    }
}
