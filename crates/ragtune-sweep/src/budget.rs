//! The limits that stop a search cleanly: seconds and tokens embedded, shared by every
//! execution of one sweep. Below the executor, which counts into it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// When a search stops: a wall-clock limit and a limit on tokens embedded, shared by
/// every execution of one sweep.
#[derive(Debug, Clone)]
pub struct Budget {
    inner: Arc<BudgetInner>,
}

#[derive(Debug)]
struct BudgetInner {
    started: Instant,
    max_seconds: Option<f64>,
    max_tokens: Option<u64>,
    tokens: AtomicU64,
}

impl Budget {
    /// A budget starting now.
    pub fn new(max_seconds: Option<f64>, max_tokens: Option<u64>) -> Self {
        Self {
            inner: Arc::new(BudgetInner {
                started: Instant::now(),
                max_seconds,
                max_tokens,
                tokens: AtomicU64::new(0),
            }),
        }
    }

    /// Count `n` more tokens embedded.
    pub fn add_tokens(&self, n: u64) {
        self.inner.tokens.fetch_add(n, Ordering::Relaxed);
    }

    /// Tokens embedded so far.
    pub fn tokens(&self) -> u64 {
        self.inner.tokens.load(Ordering::Relaxed)
    }

    /// Seconds since the start.
    pub fn seconds(&self) -> f64 {
        self.inner.started.elapsed().as_secs_f64()
    }

    /// Whether it sets any limit.
    pub fn is_limited(&self) -> bool {
        self.inner.max_seconds.is_some() || self.inner.max_tokens.is_some()
    }

    /// Whether either limit is reached.
    pub fn reached(&self) -> bool {
        self.inner.max_seconds.is_some_and(|m| self.seconds() >= m)
            || self.inner.max_tokens.is_some_and(|m| self.tokens() >= m)
    }
}
