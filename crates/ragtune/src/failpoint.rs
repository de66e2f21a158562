//! Fail points: named places in the sweep's write-out where a test build stops the
//! process at once, as a kill would (`RAGTUNE_FAILPOINT=<name>`), so that every phase of
//! the write-out is tested by a fixed point rather than a timed kill. Compiled in only with
//! the `failpoints` feature (scripts/test.sh); a plain build has none.

/// Abort here when `RAGTUNE_FAILPOINT` names this point (test builds only).
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) {
    if std::env::var("RAGTUNE_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("ragtune: fail point {name}: stopping here");
        std::process::abort();
    }
}

/// Fail points are not compiled into this build.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) {}
