//! Kept until the api files name `crate::api::error` (the HTTP mapping of errors lives there).
pub use crate::api::error::*;
