//! HTTP tests over a real socket: one binary, one module per area.

mod access;
mod bad_input;
#[path = "../common/mod.rs"]
mod common;
mod compat;
mod compat_family;
mod concurrency;
mod faults;
mod helpers;
mod history;
mod json_api;
mod limits;
mod ops;
mod sessions;
