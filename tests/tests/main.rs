//! The end-to-end suite, one test binary: each file of this folder is a module, and a scenario
//! declared with `both_backends!` runs as `<file>::<scenario>::sqlite` and `…::postgres`
//! (tests/run.sh counts both). Run one file's scenarios with
//! `cargo test -p kyukit-tests --test main <file>::`.

mod account_abuse;
mod alerts;
mod audit;
mod authorization;
mod backup;
mod bad_input;
mod cards_follow;
mod db_reconnect;
mod directives;
mod ed_board;
mod escalation;
mod family;
mod family_push;
mod fanout;
mod federation;
mod field;
mod field_cli;
mod field_pages;
mod governance_directory;
mod governance_disaster;
mod household;
mod idempotency;
mod import;
mod incident_grant;
mod joint;
mod keys;
mod lean;
mod openapi;
mod operations;
mod pages;
mod photo;
mod prearrival;
mod prearrival_clinical;
mod prearrival_inquiry;
mod prearrival_record;
mod public;
mod push;
mod reconfirm;
mod registration_holds;
mod replay;
mod residents;
mod session_locks;
mod slow_clients;
mod staff;
mod tenancy;
mod trust_list;
mod webauthn;
