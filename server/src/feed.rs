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
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            tx: broadcast::channel(1024).0,
        }
    }
}

impl Hub {
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
