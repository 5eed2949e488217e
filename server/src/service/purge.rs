//! The purge after 支援中止 (RULES R9: "the city may delete data"): once a withdrawn record's
//! retention has run out, its dataset is deleted, its identity erased, its own login suspended.
//! Kept: the consent history (R8: the consent record is kept), revoked card rows (so revocation
//! lists stay complete until the cards expire) and the proxy links (who acted for whom).

use crate::db::{self, Db};
use crate::domain::{AccountStatus, ResidentStatus};
use crate::service::error::DomainError;

/// Text left in place of erased identity fields.
pub const ERASED: &str = "（削除済み）";

/// Purges every withdrawn record whose `purge_after` has passed; returns how many.
pub fn purge_due(db: &Db, now: i64) -> Result<usize, DomainError> {
    db.write(|c| {
        let due = db::residents::residents_due_for_purge(c, now)?;
        for mut r in due.iter().cloned() {
            db::residents::delete_items_of(c, &r.id)?;
            db::photos::delete(c, &r.id)?;
            db::invites::delete_of(c, &r.id)?;
            // The natural key of an import is a hash of the identity: erased with it.
            db::imports::delete_key_of(c, &r.id)?;
            if let Some(account) = &r.account_id {
                db::accounts::set_account_status(c, account, AccountStatus::Suspended)?;
                db::accounts::delete_sessions_of(c, account)?;
            }
            r.family_name = ERASED.into();
            r.given_name = ERASED.into();
            r.family_name_kana = None;
            r.given_name_kana = None;
            r.date_of_birth = "1900-01-01".into();
            r.sex = "unknown".into();
            r.address = ERASED.into();
            r.district = None;
            r.phone = None;
            r.status = ResidentStatus::Purged;
            r.updated_at = now;
            db::residents::update_resident(c, &r)?;
            crate::audit::append(
                c,
                &r.municipality_id,
                &crate::audit::Event::new(crate::audit::Action::Purge, crate::audit::Outcome::Ok)
                    .about(&r.id),
                now,
            );
        }
        if !due.is_empty() {
            tracing::info!(count = due.len(), "purged withdrawn records past retention");
        }
        Ok(due.len())
    })
}
