//! rollcall: an event-sourced group-membership service.
//!
//! A tour, in the order a request flows:
//!
//! - [`http`] parses and authenticates a request into a [`commands::Command`]
//!   (writes) or a call into [`queries`] (reads). [`http::compat`] serves the
//!   dmadminweb paths, [`http::v1`] the JSON API; both use the same commands
//!   and queries.
//! - [`writer`] is the single owner of the write connection. For each command
//!   it calls [`decide::decide`] (state + command -> events, the only place
//!   rules live), appends the events to the hash-chained [`log`] and folds them
//!   with [`fold::fold`] into the in-memory [`state::State`], in one
//!   transaction; it commits, publishes the new state to the [`read_model`],
//!   and only then replies. The changes the fold computed go on to the
//!   [`view_writer`], which writes the SQLite [`views`] a few ms behind.
//! - Queries read a [`read_model`] snapshot: a consistent [`state::State`] at
//!   one log position, never SQLite on the hot path.
//! - [`projector`] catches the views up at start and rebuilds them, with the
//!   same `fold` ([`rebuild`] writes a whole fold's views in bulk).
//! - [`domain`] holds the newtypes that parse (names, identifiers, ids);
//!   [`events`] the vocabulary of the log; [`auth`] passwords, sessions and
//!   login throttling.
//! - Around them: [`server`] accepts connections within the configured
//!   [`config::Limits`], [`metrics`] counts what happens for `/metrics`, and
//!   [`backup`] copies a live database.

pub mod access;
pub mod app;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod commands;
pub mod config;
pub mod decide;
pub mod domain;
pub mod events;
pub mod fold;
pub mod http;
pub mod log;
pub mod logging;
pub mod metrics;
pub mod projector;
pub mod queries;
pub mod read_model;
pub mod reader;
pub mod rebuild;
pub mod server;
pub mod state;
pub mod view_writer;
pub mod views;
pub mod writer;

/// The std hash map on aHash, keyed at random per map: for the bulk folds'
/// own bookkeeping (rebuild, verify), which hashes a key per event and so
/// felt SipHash's cost; random keys keep it safe from keys chosen to collide.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;
