//! Old values freed off the publishing path. Freeing a replaced input and baseline (10^5
//! allocations at 150,000 pods) costs about a third as much as making the new baseline; done
//! where the replacement is published, it delays the next watch update on the same cores. One
//! low-priority thread frees them instead.
//!
//! Memory stays bounded: at most one old value waits for that thread; when one already waits
//! (updates faster than the thread frees), the caller frees the value itself, as before.

use std::sync::OnceLock;
use std::sync::mpsc::{self, SyncSender, TrySendError};

type Retired = Box<dyn Send>;

/// The name of the thread that frees retired values.
pub(crate) const THREAD_NAME: &str = "lifeboat-retire";

/// Drops `value` on the retiring thread, or here when that thread is busy or could not start.
pub(crate) fn drop_later<T: Send + 'static>(value: T) {
    let Some(tx) = retiring() else {
        return drop(value);
    };
    match tx.try_send(Box::new(value)) {
        Ok(()) => {}
        Err(TrySendError::Full(value) | TrySendError::Disconnected(value)) => drop(value),
    }
}

fn retiring() -> Option<&'static SyncSender<Retired>> {
    static TX: OnceLock<Option<SyncSender<Retired>>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = mpsc::sync_channel::<Retired>(1);
        let started = std::thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || {
                lower_priority();
                for old in rx {
                    drop(old);
                }
            });
        started.ok().map(|_| tx)
    })
    .as_ref()
}

/// Freeing can wait: the thread yields the cores to the next update and to reviews.
#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: setpriority takes integers only. On Linux the nice value is per thread and
    // `who` 0 names the calling thread, so only this thread is lowered. A failure (never
    // expected: raising one's own nice value needs no privilege) leaves the priority as it was.
    let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Counts its drops, and those made on the retiring thread.
    struct Counted {
        dropped: Arc<AtomicUsize>,
        on_retiring_thread: Arc<AtomicUsize>,
    }

    impl Drop for Counted {
        fn drop(&mut self) {
            self.dropped.fetch_add(1, Ordering::SeqCst);
            if std::thread::current().name() == Some(THREAD_NAME) {
                self.on_retiring_thread.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    #[test]
    fn every_value_is_dropped_once_and_some_on_the_retiring_thread() {
        let dropped = Arc::new(AtomicUsize::new(0));
        let on_retiring_thread = Arc::new(AtomicUsize::new(0));
        let given = 200;
        for _ in 0..given {
            drop_later(Counted {
                dropped: Arc::clone(&dropped),
                on_retiring_thread: Arc::clone(&on_retiring_thread),
            });
        }
        // Bounded poll: the retiring thread frees at most one waiting value.
        for _ in 0..500 {
            if dropped.load(Ordering::SeqCst) == given {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(dropped.load(Ordering::SeqCst), given, "a value was lost");
        assert!(
            on_retiring_thread.load(Ordering::SeqCst) > 0,
            "no value was freed off the caller's thread"
        );
    }
}
