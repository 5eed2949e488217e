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
