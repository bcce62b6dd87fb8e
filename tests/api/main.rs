//! HTTP tests over a real socket: one binary, one module per area.

mod compat;
mod helpers;
mod history;
mod json_api;
mod sessions;
