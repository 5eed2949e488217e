//! Shared application state handed to handlers.

use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    /// The deployment's default municipality (the first created): the tenant of a public request
    /// that names none (`api::tenant`) and of the operator's commands without `--municipality`.
    /// Every other request's municipality comes from what it carries (docs/data-model.md).
    pub default_municipality: String,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub limits: Arc<crate::ratelimit::RateLimits>,
    /// Wakes the live-feed streams after a commit.
    pub feed: Arc<crate::feed::Hub>,
    /// Web Push: the VAPID key and the outbox worker (`push.wake()` after queuing).
    pub push: Arc<crate::push::PushWorker>, // push
    /// Open connections per client address (the cap of `--connections-per-addr`).
    pub connections: Arc<crate::connections::ConnectionCount>,
    /// The city console's import jobs running or recently ended on this instance.
    pub imports: Arc<crate::service::import_jobs::Jobs>,
    /// The trust-list key and the last signed list (`service::trust_list`).
    pub trust: Arc<crate::service::trust_list::TrustListSigner>,
}

impl AppState {
    /// What a committed change wakes on this instance (given to the services that write feed
    /// events or queue pushes).
    pub fn wakers(&self) -> crate::feed::Wakers {
        let push = self.push.clone();
        crate::feed::Wakers::new(self.feed.clone(), move || push.wake())
    }
}
