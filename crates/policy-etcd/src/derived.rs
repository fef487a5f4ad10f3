//! [`Derived`]: a value computed from the newest [`View`] of a [`crate::LiveView`] in the
//! background, and published whole. Readers never wait for a computation: they get the newest
//! published value together with the view it was computed from, so what they judge and what
//! it was judged against always belong together, even while a newer view is being computed.
//!
//! Bursts coalesce: a computation runs on the newest view; views published meanwhile only mark
//! the input as changed, so when it ends one more computation runs on the newest of them, not
//! one per view. The webhook's baseline and `lifeboat policy watch`'s check both run here.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

use crate::live::View;

/// A computed value and what it was computed from.
#[derive(Debug)]
pub struct Stamped<T> {
    /// The view the value describes (its revision, its `loaded`, its input error).
    pub view: Arc<View>,
    pub value: Arc<T>,
    /// When the computation that made `value` ended.
    pub computed_at: SystemTime,
    /// How long that computation took.
    pub took: Duration,
    /// Computations run so far, the first included.
    pub computations: u64,
}

/// How a value is made from a view; runs on the blocking pool.
pub type Compute<T> = Arc<dyn Fn(&View) -> T + Send + Sync>;

/// A value kept current with a live view (see the module docs). Dropping it stops the task.
pub struct Derived<T> {
    rx: watch::Receiver<Arc<Stamped<T>>>,
    views: watch::Receiver<Arc<View>>,
    task: tokio::task::JoinHandle<()>,
}

impl<T> Drop for Derived<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The first computation panicked: there is no value to publish.
#[derive(Debug, thiserror::Error)]
#[error("computing from the cluster at revision {revision} failed: {why}")]
pub struct FirstFailed {
    pub revision: i64,
    pub why: String,
}

impl<T: Send + Sync + 'static> Derived<T> {
    /// Computes from the newest view of `views` now (so readers always have a value), then
    /// follows it in the background.
    pub async fn start(
        mut views: watch::Receiver<Arc<View>>,
        compute: Compute<T>,
    ) -> Result<Derived<T>, FirstFailed> {
        let view = views.borrow_and_update().clone();
        let first = run(&compute, Arc::clone(&view), 0)
            .await
            .map_err(|why| FirstFailed {
                revision: view.revision,
                why,
            })?;
        let (tx, rx) = watch::channel(Arc::new(first));
        let task = tokio::spawn(follow(views.clone(), compute, tx));
        Ok(Derived { rx, views, task })
    }

    /// The newest published value and the view it was computed from.
    pub fn current(&self) -> Arc<Stamped<T>> {
        self.rx.borrow().clone()
    }

    /// The revision of the newest view seen, which the published value may not reflect yet.
    pub fn newest_revision(&self) -> i64 {
        self.views.borrow().revision
    }

    /// A receiver that wakes on every publication.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Stamped<T>>> {
        self.rx.clone()
    }
}

async fn follow<T: Send + Sync + 'static>(
    mut views: watch::Receiver<Arc<View>>,
    compute: Compute<T>,
    tx: watch::Sender<Arc<Stamped<T>>>,
) {
    loop {
        tokio::select! {
            changed = views.changed() => if changed.is_err() { return },
            () = tx.closed() => return,
        }
        let view = views.borrow_and_update().clone();
        let previous = tx.borrow().clone();
        let stamped = if Arc::ptr_eq(&view.loaded, &previous.view.loaded) {
            // Only the view's news changed (an input error, a re-list to the same state):
            // the value stands, and says which view it now answers for.
            Stamped {
                view,
                value: Arc::clone(&previous.value),
                computed_at: previous.computed_at,
                took: previous.took,
                computations: previous.computations,
            }
        } else {
            match run(&compute, Arc::clone(&view), previous.computations).await {
                Ok(s) => s,
                Err(why) => {
                    tracing::error!(
                        revision = view.revision,
                        "computing from the cluster at revision {} failed ({why}); the value of revision {} stays published",
                        view.revision,
                        previous.view.revision
                    );
                    continue;
                }
            }
        };
        // The replaced value (often its view's input too) is freed off this path, so the
        // next update is not delayed by it (see `crate::retire`).
        let replaced = tx.send_replace(Arc::new(stamped));
        crate::retire::drop_later((replaced, previous));
    }
}

/// One computation on the blocking pool; a panic becomes its message.
async fn run<T: Send + Sync + 'static>(
    compute: &Compute<T>,
    view: Arc<View>,
    done: u64,
) -> Result<Stamped<T>, String> {
    let compute = Arc::clone(compute);
    let job = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let value = compute(&view);
        (view, value, started.elapsed())
    });
    match job.await {
        Ok((view, value, took)) => Ok(Stamped {
            view,
            value: Arc::new(value),
            computed_at: SystemTime::now(),
            took,
            computations: done + 1,
        }),
        Err(e) => Err(e.to_string()),
    }
}
