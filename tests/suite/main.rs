//! Easel's integration and end-to-end tests, in one test binary so that a build links once.
//! Each theme is a folder: `backends/` (each protocol against a fake service over real HTTP),
//! `discord/` (members' flows through the sandbox and a real poise client), `engine/` (the
//! scheduler and the database), `app/` (config, CLI, admin, the operator HTTP server) and
//! `sandbox/` (the Discord-compatible server itself). `support/` holds the fakes and the world.

mod app;
mod backends;
mod discord;
mod engine;
mod sandbox;
mod support;
