mod admin;
mod cli;
mod config;
mod operator_http;
mod secrets_in_logs;
