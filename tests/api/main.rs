//! HTTP tests over a real socket: one binary, one module per area.

mod compat;
mod helpers;
mod json_api;
mod sessions;
