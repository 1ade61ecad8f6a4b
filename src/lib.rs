//! Easel: a self-hosted, Midjourney-style image bot. The library holds everything; the
//! `easel` binary only parses the command line and calls into [`cli`].

pub mod admin;
pub mod app;
pub mod backends;
pub mod base;
pub mod cli;
pub mod config;
pub mod db;
pub mod discord;
pub mod http;
pub mod imaging;
pub mod metrics_catalog;
pub mod prefs;
pub mod prompt;
pub mod sandbox;
pub mod storage;
pub mod tasks;
