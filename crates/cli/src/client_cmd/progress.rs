//! A spinner for waits longer than a second (discovery, a slow server), on a terminal only.
//!
//! One at a time: the login prompt hides it before it prints the authorization URL, and its own
//! spinner takes over. Never drawn with `-q` or when stderr is not a terminal (indicatif checks).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

static CURRENT: Mutex<Option<(u64, indicatif::ProgressBar)>> = Mutex::new(None);
static NEXT: AtomicU64 = AtomicU64::new(1);

fn current() -> std::sync::MutexGuard<'static, Option<(u64, indicatif::ProgressBar)>> {
    CURRENT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Shows its message with a spinner once it has been alive for a second.
pub struct Progress {
    id: u64,
    bar: indicatif::ProgressBar,
}

impl Progress {
    /// Starts the delay; drop the guard to remove the spinner.
    pub fn start(message: impl Into<String>) -> Self {
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let bar = indicatif::ProgressBar::hidden();
        bar.set_message(message.into());
        if !crate::output::quiet() {
            *current() = Some((id, bar.clone()));
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let still = current().as_ref().filter(|(i, _)| *i == id).cloned();
                if let Some((_, bar)) = still {
                    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                    bar.enable_steady_tick(Duration::from_millis(120));
                }
            });
        }
        Self { id, bar }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
        let mut c = current();
        if c.as_ref().is_some_and(|(i, _)| *i == self.id) {
            *c = None;
        }
    }
}

/// Hides the current spinner for good (the prompt is about to print and show its own).
pub fn pause() {
    if let Some((_, bar)) = current().take() {
        bar.finish_and_clear();
    }
}
