//! The engine: it owns every task from submission to its final state — checking and
//! creating tasks within each member's limits (`submit`), claiming them fairly and running
//! them on their backends (`engine`, `runner`), moving work off unwell backends
//! (`failover`), keeping each backend's waiting line at hand (`lines`) — and tells the world
//! through events. `retention` removes what finished work left behind, once it is old. The task rows themselves, and all SQL, are in [`crate::db`].

pub mod engine;
pub mod events;
mod failover;
mod lines;
pub mod retention;
mod runner;
pub mod submit;
