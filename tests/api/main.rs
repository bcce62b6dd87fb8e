//! HTTP tests over a real socket: one binary, one module per area.

mod access;
mod compat;
mod compat_family;
mod helpers;
mod history;
mod json_api;
mod sessions;
