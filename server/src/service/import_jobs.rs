//! The city console's upload of a paper-kit register (issue 26): the same import as `kyukit
//! residents import` (`service::import`). A dry run answers at once with the per-row report. A
//! real import runs as a job on a thread of its own; its progress (rows written of rows to write)
//! and, at the end, its report are kept in memory **on the instance that runs it** (a console
//! polls that instance; behind a load balancer, route the console to one instance — the import
//! itself is in the database and a re-run imports nothing twice). Jobs are the municipality's:
//! any of its city administrators may read them; finished jobs are dropped after an hour.
//!
//! Audited: the import's own events (`resident.import` per resident, `import.run`), and a dry
//! run as `import.run` with its counts.

use super::accounts::Actor;
use super::error::DomainError;
use super::facilities::require_city_admin;
use super::import::{self, Report};
use crate::audit::{self, Action, Outcome};
use crate::db::Db;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A finished job is forgotten this long after it ended.
const KEEP_SECS: i64 = 3600;
/// At most this many jobs are kept (the oldest finished ones are dropped first).
const MAX_JOBS: usize = 32;

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Running,
    Done,
    Failed,
}

/// A job as the console sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Job {
    pub id: String,
    pub state: JobState,
    /// Rows written so far, of `total` rows to write (the rows that passed every check).
    pub done: usize,
    pub total: usize,
    pub started_at: i64,
    /// When finished: the import's report (line, column and reason of every rejected row).
    #[schema(value_type = Option<Object>)]
    pub report: Option<Report>,
    /// When failed: the error's code and message.
    pub error: Option<String>,
    pub error_code: Option<String>,
    #[serde(skip)]
    municipality_id: String,
    #[serde(skip)]
    ended_at: Option<i64>,
}

/// The jobs of this instance.
#[derive(Debug, Default)]
pub struct Jobs {
    jobs: Mutex<HashMap<String, Job>>,
}

impl Jobs {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Job>) -> R) -> R {
        let mut g = match self.jobs.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut g)
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut Job)) {
        self.with(|m| {
            if let Some(j) = m.get_mut(id) {
                f(j);
            }
        });
    }
}

/// Only a city administrator imports (a refusal is audited); checked before the body is read.
pub fn admin_only(db: &Db, actor: &Actor, now: i64) -> Result<(), DomainError> {
    require_city_admin(actor).map_err(|err| {
        super::deny(
            db,
            &actor.municipality_id,
            actor.event(Action::ImportRun, Outcome::Denied),
            err,
            now,
        )
    })
}

/// A dry run: every row checked, nothing written; the report; audited with its counts.
pub fn dry_run(db: &Db, actor: &Actor, csv: &[u8], now: i64) -> Result<Report, DomainError> {
    admin_only(db, actor, now)?;
    let report = import::import_csv(db, actor, csv, true, now, &mut |_, _| {})?;
    db.write(|c| {
        let event = actor.event(Action::ImportRun, Outcome::Ok).detail(format!(
            "dry run (console): {} rows, {} would be imported, {} already, {} rejected",
            report.rows,
            report.imported,
            report.already,
            report.rejected_lines.len()
        ));
        audit::append(c, &actor.municipality_id, &event, now);
        Ok::<_, DomainError>(())
    })?;
    Ok(report)
}

/// Starts an import as a job; returns it (running). A whole-file problem (not CSV, a missing
/// column) is found by a check first and refused here, before any job exists.
pub fn start(
    jobs: &Arc<Jobs>,
    db: &Db,
    actor: &Actor,
    csv: Vec<u8>,
    now: i64,
) -> Result<Job, DomainError> {
    admin_only(db, actor, now)?;
    let checked = import::import_csv(db, actor, &csv, true, now, &mut |_, _| {})?;
    let id = super::new_id()?;
    let job = Job {
        id: id.clone(),
        state: JobState::Running,
        done: 0,
        total: checked.imported,
        started_at: now,
        report: None,
        error: None,
        error_code: None,
        municipality_id: actor.municipality_id.clone(),
        ended_at: None,
    };
    jobs.with(|m| {
        m.retain(|_, j| j.ended_at.is_none_or(|t| t + KEEP_SECS > now));
        while m.len() >= MAX_JOBS {
            let oldest = m
                .values()
                .filter(|j| j.ended_at.is_some())
                .min_by_key(|j| j.started_at)
                .map(|j| j.id.clone());
            match oldest {
                Some(o) => m.remove(&o),
                None => break,
            };
        }
        m.insert(id.clone(), job.clone());
    });
    let (jobs2, db2, actor2) = (jobs.clone(), db.clone(), actor.clone());
    std::thread::Builder::new()
        .name("import-job".into())
        .spawn(move || {
            let result = import::import_csv(&db2, &actor2, &csv, false, now, &mut |done, total| {
                jobs2.update(&id, |j| {
                    j.done = done;
                    j.total = total;
                });
            });
            jobs2.update(&id, |j| {
                j.ended_at = Some(now);
                match result {
                    Ok(report) => {
                        j.state = JobState::Done;
                        j.done = report.imported;
                        j.report = Some(report);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e.for_operator(), "console import failed");
                        j.state = JobState::Failed;
                        j.error_code = Some(e.code().to_string());
                        j.error = Some(e.to_string());
                    }
                }
            });
        })
        .map_err(DomainError::internal)?;
    Ok(job)
}

/// A job of the caller's municipality (city administrators); anything else is 404.
pub fn status(jobs: &Jobs, db: &Db, actor: &Actor, id: &str, now: i64) -> Result<Job, DomainError> {
    admin_only(db, actor, now)?;
    super::check_id(id)?;
    jobs.with(|m| {
        m.get(id)
            .filter(|j| j.municipality_id == actor.municipality_id)
            .cloned()
    })
    .ok_or_else(|| DomainError::not_found("no such import job on this server"))
}
