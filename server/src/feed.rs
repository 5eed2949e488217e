//! The live feed's wake-up signal. Events themselves are rows (`feed_events`, numbered per
//! facility and written in the transaction that caused them); after a commit the writer publishes
//! `(facility, seq)` here and every open stream of that facility reads the new rows. A stream that
//! lags behind the channel simply reads from the database again, so nothing is lost.
//! (With PostgreSQL and several instances, `pg_notify` in the same transaction wakes the others.)

/// The PostgreSQL notification channel of committed feed events (payload `facility:seq`).
pub const CHANNEL: &str = "kyukit_feed";

/// A committed feed event: facility and sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub facility_id: String,
    pub seq: i64,
}

/// Per facility, the newest sequence number published; its streams wait on it.
type Heads = std::collections::HashMap<String, tokio::sync::watch::Sender<i64>>;

#[derive(Debug)]
pub struct Hub {
    /// Only the facilities someone is watching have an entry (the last stream to go removes it):
    /// a note wakes the streams of its facility and no other. (One broadcast channel for all
    /// streams woke every stream at every note, and each then read the database: 10,000 reads per
    /// report with 10,000 boards open — docs/scaling.md "National shape".)
    heads: std::sync::Mutex<Heads>,
    /// Set once when the server shuts down: every open stream ends at once.
    closing: tokio::sync::watch::Sender<bool>,
    /// Open streams (the `kyukit_feed_clients` gauge).
    clients: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            heads: std::sync::Mutex::default(),
            closing: tokio::sync::watch::channel(false).0,
            clients: std::sync::Arc::default(),
        }
    }
}

/// Counts one open stream while it lives.
#[derive(Debug)]
pub struct ClientGuard(std::sync::Arc<std::sync::atomic::AtomicI64>);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A stream's wake-up: resolves when a note newer than the last one seen is published for its
/// facility. Notes published after [`Hub::subscribe`] are never missed (a `watch` keeps the
/// latest value and whether it was seen).
#[derive(Debug)]
pub struct Subscription {
    hub: std::sync::Arc<Hub>,
    facility: String,
    rx: Option<tokio::sync::watch::Receiver<i64>>,
}

impl Subscription {
    /// Waits for the next note of the facility (pending forever if the hub is gone).
    pub async fn changed(&mut self) {
        let Some(rx) = self.rx.as_mut() else {
            return std::future::pending().await;
        };
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        drop(self.rx.take());
        let mut heads = self.hub.heads.lock().unwrap_or_else(|p| p.into_inner());
        if heads
            .get(&self.facility)
            .is_some_and(|tx| tx.receiver_count() == 0)
        {
            heads.remove(&self.facility);
        }
    }
}

impl Hub {
    /// Ends every open stream now and every stream opened later at once (shutdown: clients
    /// reconnect, to another instance if there is one).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves-on-change handle of the shutdown flag (`*borrow()` is true once closing).
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Registers an open stream; dropping the guard unregisters it.
    pub fn client(&self) -> ClientGuard {
        self.clients
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ClientGuard(self.clients.clone())
    }

    /// How many streams are open.
    pub fn clients(&self) -> i64 {
        self.clients.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Wakes the streams of these facilities (call after the commit). A note not newer than one
    /// already published (PostgreSQL: the instance's own `pg_notify` coming back) wakes nobody.
    pub fn publish(&self, notes: &[Note]) {
        let heads = self.heads.lock().unwrap_or_else(|p| p.into_inner());
        for n in notes {
            // No entry: nobody is watching that facility.
            if let Some(tx) = heads.get(&n.facility_id) {
                tx.send_if_modified(|head| {
                    let newer = n.seq > *head;
                    if newer {
                        *head = n.seq;
                    }
                    newer
                });
            }
        }
    }

    /// The wake-up of one facility's stream; subscribe before reading the facility's events.
    pub fn subscribe(self: &std::sync::Arc<Self>, facility: &str) -> Subscription {
        let mut heads = self.heads.lock().unwrap_or_else(|p| p.into_inner());
        let rx = match heads.get(facility) {
            Some(tx) => tx.subscribe(),
            None => {
                let (tx, rx) = tokio::sync::watch::channel(0);
                heads.insert(facility.to_string(), tx);
                rx
            }
        };
        Subscription {
            hub: self.clone(),
            facility: facility.to_string(),
            rx: Some(rx),
        }
    }

    /// Facilities with at least one stream open (tests).
    pub fn watched(&self) -> usize {
        self.heads.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl Note {
    /// Parses a notification payload `facility:seq`.
    pub fn parse(payload: &str) -> Option<Note> {
        let (facility_id, seq) = payload.split_once(':')?;
        Some(Note {
            facility_id: facility_id.to_string(),
            seq: seq.parse().ok()?,
        })
    }
}

/// What a committed change wakes on this instance: the live-feed streams of the facilities it
/// wrote events for, and the push worker when it queued pushes. Services hand the wake-up to their
/// transaction ([`crate::db::Tx::after_commit`]), so it happens once the change is durable and
/// never if it is not.
#[derive(Clone)]
pub struct Wakers {
    feed: std::sync::Arc<Hub>,
    push: std::sync::Arc<dyn Fn() + Send + Sync>,
}

impl Wakers {
    /// `push` wakes the push worker (it also polls, so a missed wake-up only delays a push).
    pub fn new(feed: std::sync::Arc<Hub>, push: impl Fn() + Send + Sync + 'static) -> Self {
        Wakers {
            feed,
            push: std::sync::Arc::new(push),
        }
    }

    /// Wakes the streams of these facilities, and the push worker if `pushed`.
    pub fn wake(&self, notes: &[Note], pushed: bool) {
        self.feed.publish(notes);
        if pushed {
            (self.push)();
        }
    }
}

impl std::fmt::Debug for Wakers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wakers").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn note(f: &str, seq: i64) -> Note {
        Note {
            facility_id: f.into(),
            seq,
        }
    }

    async fn woken(s: &mut Subscription) -> bool {
        tokio::time::timeout(Duration::from_millis(50), s.changed())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_note_wakes_the_streams_of_its_facility_only() {
        let hub = Arc::new(Hub::default());
        let (mut a1, mut a2, mut b) = (hub.subscribe("A"), hub.subscribe("A"), hub.subscribe("B"));
        assert_eq!(hub.watched(), 2);
        hub.publish(&[note("A", 1)]);
        assert!(woken(&mut a1).await && woken(&mut a2).await);
        assert!(!woken(&mut b).await, "B's stream woke for A's note");
        // Seen once: no second wake without a new note; an old or repeated note wakes nobody
        // (PostgreSQL: the instance's own pg_notify comes back).
        assert!(!woken(&mut a1).await);
        hub.publish(&[note("A", 1), note("A", 0)]);
        assert!(!woken(&mut a1).await);
        // Notes published while a stream was busy are not lost.
        hub.publish(&[note("A", 2), note("B", 7)]);
        assert!(woken(&mut a1).await && woken(&mut b).await);
        // Nobody watching C: nothing kept for it.
        hub.publish(&[note("C", 1)]);
        assert_eq!(hub.watched(), 2);
        drop((a1, a2));
        assert_eq!(
            hub.watched(),
            1,
            "the last stream of A gone, A's entry goes"
        );
        drop(b);
        assert_eq!(hub.watched(), 0);
    }
}
