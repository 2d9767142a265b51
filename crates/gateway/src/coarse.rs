//! Coarse timeouts for one worker thread: deadlines kept in a small table and checked by one
//! ticker task every [`TICK`], instead of a timer-wheel entry registered and removed for every
//! request. A deadline never fires early and fires at most one tick late, which is plenty for
//! timeouts counted in seconds (a backend's `timeout_seconds`, the 30 s to send request headers).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// How often the ticker looks for expired deadlines.
pub const TICK: Duration = Duration::from_millis(100);

/// One worker's pending deadlines.
#[derive(Default)]
pub struct Deadlines {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    entries: Vec<Option<Entry>>,
    free: Vec<usize>,
}

struct Entry {
    deadline: Instant,
    waker: Waker,
    fired: bool,
}

impl Deadlines {
    pub fn new() -> Arc<Deadlines> {
        Arc::new(Deadlines::default())
    }

    /// Wakes the sleeps whose deadline has passed, every [`TICK`], for as long as it runs
    /// (spawn it on the worker's runtime).
    pub async fn run(self: Arc<Self>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = Instant::now();
            let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
            for entry in table.entries.iter_mut().flatten() {
                if !entry.fired && entry.deadline <= now {
                    entry.fired = true;
                    entry.waker.wake_by_ref();
                }
            }
        }
    }

    /// A future that completes at `deadline` (at most one tick later).
    pub fn sleep_until(self: &Arc<Self>, deadline: Instant) -> Sleep {
        Sleep {
            deadlines: self.clone(),
            deadline,
            slot: None,
        }
    }
}

/// See [`Deadlines::sleep_until`].
pub struct Sleep {
    deadlines: Arc<Deadlines>,
    deadline: Instant,
    slot: Option<usize>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let mut table = this
            .deadlines
            .table
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = this
            .slot
            .and_then(|s| table.entries.get_mut(s))
            .and_then(Option::as_mut)
        {
            if entry.fired {
                return Poll::Ready(());
            }
            if !entry.waker.will_wake(cx.waker()) {
                entry.waker = cx.waker().clone();
            }
            return Poll::Pending;
        }
        if Instant::now() >= this.deadline {
            return Poll::Ready(());
        }
        let entry = Some(Entry {
            deadline: this.deadline,
            waker: cx.waker().clone(),
            fired: false,
        });
        let slot = match table.free.pop() {
            Some(slot) => {
                if let Some(place) = table.entries.get_mut(slot) {
                    *place = entry;
                }
                slot
            }
            None => {
                table.entries.push(entry);
                table.entries.len() - 1
            }
        };
        this.slot = Some(slot);
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            let mut table = self
                .deadlines
                .table
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(place) = table.entries.get_mut(slot) {
                *place = None;
                table.free.push(slot);
            }
        }
    }
}

impl hyper::rt::Sleep for Sleep {}

/// hyper's timer (for the header read timeout), backed by a worker's [`Deadlines`].
#[derive(Clone)]
pub struct Timer(pub Arc<Deadlines>);

impl hyper::rt::Timer for Timer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(self.0.sleep_until(Instant::now() + duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(self.0.sleep_until(deadline))
    }
}

/// `future`, or `Err(())` once `duration` has passed.
pub async fn timeout<F: Future>(
    deadlines: &Arc<Deadlines>,
    duration: Duration,
    future: F,
) -> Result<F::Output, ()> {
    let sleep = deadlines.sleep_until(Instant::now() + duration);
    tokio::select! {
        biased;
        output = future => Ok(output),
        () = sleep => Err(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fires_after_the_deadline_and_not_before() {
        let deadlines = Deadlines::new();
        tokio::spawn(deadlines.clone().run());
        let started = Instant::now();
        let r = timeout(
            &deadlines,
            Duration::from_millis(250),
            std::future::pending::<()>(),
        )
        .await;
        assert!(r.is_err());
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(250), "{took:?}");
        assert!(took < Duration::from_millis(250) + TICK * 3, "{took:?}");
        let r = timeout(&deadlines, Duration::from_secs(5), async { 7 }).await;
        assert_eq!(r, Ok(7));
        // Freed slots are reused.
        for _ in 0..100 {
            let _ = timeout(
                &deadlines,
                Duration::from_millis(1),
                tokio::task::yield_now(),
            )
            .await;
        }
        let table = deadlines.table.lock().unwrap();
        assert!(table.entries.iter().all(Option::is_none));
        assert!(table.entries.len() <= 2, "{}", table.entries.len());
    }
}
