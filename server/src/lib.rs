//! Kyukit server and command-line tool: HTTP API (`api`), start-up (`startup`), configuration,
//! the issuer key store, and the `kyukit` CLI.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod api;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod connections;
pub mod datadir;
pub mod db;
pub mod domain;
pub mod feed;
pub mod httpsig;
pub mod jst;
pub mod metrics;
pub mod push; // push
pub mod qrsvg;
pub mod ratelimit;
pub mod secrets;
pub mod service;
pub mod startup;
pub mod state;
