//! Writing to the live feed: the events a transaction produces are collected in a [`FeedBatch`]
//! and written at its end, in facility order (so two transactions never take two facilities'
//! head-row locks in opposite orders), before the transaction's audit event (the audit head is
//! always the last lock taken). The returned notes are published to the hub after the commit.

use crate::db::incidents::{self as q, FeedRow};
use crate::db::{Db, DbConnection};
use crate::feed::Note;
use crate::service::error::DomainError;
use diesel::QueryResult;
use serde_json::Value;

#[derive(Debug, Default)]
pub struct FeedBatch {
    events: Vec<(String, String, String, Value)>,
}

impl FeedBatch {
    /// Queues an event for a facility's feed.
    pub fn push(&mut self, facility_id: &str, incident_id: &str, kind: &str, data: Value) {
        self.events.push((
            facility_id.to_string(),
            incident_id.to_string(),
            kind.to_string(),
            data,
        ));
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Writes the queued events; returns what to publish after the commit.
    pub fn flush(self, c: &mut DbConnection, muni: &str, now: i64) -> QueryResult<Vec<Note>> {
        let mut events = self.events;
        // Stable: a facility's events keep their order.
        events.sort_by(|a, b| a.0.cmp(&b.0));
        let mut notes = Vec::with_capacity(events.len());
        for (facility_id, incident_id, kind, mut data) in events {
            let seq = q::next_feed_seq(c, muni, &facility_id)?;
            if let Value::Object(m) = &mut data {
                m.insert("kind".into(), Value::String(kind.clone()));
                m.insert("at".into(), Value::from(now));
            }
            q::insert_feed(
                c,
                &FeedRow {
                    facility_id: facility_id.clone(),
                    seq,
                    municipality_id: muni.to_string(),
                    incident_id,
                    kind,
                    data: data.to_string(),
                    created_at: now,
                },
            )?;
            q::notify(c, crate::feed::CHANNEL, &format!("{facility_id}:{seq}"))?;
            notes.push(Note { facility_id, seq });
        }
        Ok(notes)
    }
}

/// One stored event, as a stream sends it.
#[derive(Debug, Clone)]
pub struct FeedEvent {
    pub seq: i64,
    pub incident_id: String,
    pub kind: String,
    /// JSON.
    pub data: String,
}

/// A facility's current head (0 before its first event).
pub fn head(db: &Db, facility: &str) -> Result<i64, DomainError> {
    db.read(|c| Ok(q::feed_head(c, facility)?))
}

/// A facility's events after `after`, oldest first, at most `limit`.
pub fn since(
    db: &Db,
    facility: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<FeedEvent>, DomainError> {
    db.read(|c| {
        Ok(q::feed_since(c, facility, after, limit)?
            .into_iter()
            .map(|r| FeedEvent {
                seq: r.seq,
                incident_id: r.incident_id,
                kind: r.kind,
                data: r.data,
            })
            .collect())
    })
}
