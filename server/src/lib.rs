//! Kyukit server and command-line tool: HTTP API (`api`), start-up (`startup`), configuration,
//! the issuer key store, and the `kyukit` CLI.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod api;
pub mod cli;
pub mod clock;
pub mod config;
pub mod error;
pub mod keystore;
pub mod secrets;
pub mod startup;
pub mod state;
