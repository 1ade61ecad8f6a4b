mod admin;
mod audit;
mod cli;
mod config;
mod deploy_files;
mod metrics_catalog;
mod operator_http;
mod secrets_in_logs;
