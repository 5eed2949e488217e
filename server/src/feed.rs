//! The live feed's wake-up signal. Events themselves are rows (`feed_events`, numbered per
//! facility and written in the transaction that caused them); after a commit the writer publishes
//! `(facility, seq)` here and every open stream of that facility reads the new rows. A stream that
//! lags behind the channel simply reads from the database again, so nothing is lost.
//! (With PostgreSQL and several instances, `pg_notify` in the same transaction wakes the others.)

use tokio::sync::broadcast;

/// The PostgreSQL notification channel of committed feed events (payload `facility:seq`).
pub const CHANNEL: &str = "kyukit_feed";

/// A committed feed event: facility and sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub facility_id: String,
    pub seq: i64,
}

#[derive(Debug)]
pub struct Hub {
    tx: broadcast::Sender<Note>,
    /// Set once when the server shuts down: every open stream ends at once.
    closing: tokio::sync::watch::Sender<bool>,
    /// Open streams (the `kyukit_feed_clients` gauge).
    clients: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            tx: broadcast::channel(1024).0,
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

    /// Wakes the streams of these facilities (call after the commit).
    pub fn publish(&self, notes: &[Note]) {
        for n in notes {
            // No receiver is not an error: nobody is watching that facility.
            let _ = self.tx.send(n.clone());
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Note> {
        self.tx.subscribe()
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
