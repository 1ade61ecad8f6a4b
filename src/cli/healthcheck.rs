//! `easel healthcheck`: asks a running Easel's `/healthz` whether it is healthy, for Docker's
//! `HEALTHCHECK`, compose and service monitors. It reads the same config as the bot (so in the
//! image it finds `EASEL__HTTP__LISTEN` by itself) and answers only with its exit code: 0 when
//! `/healthz` says 200, 1 for anything else — Docker reserves 2, so a broken config is 1 too.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::config;

/// `/healthz` waits up to 10 s for each backend's probe (in parallel); a little over that.
const TIMEOUT: Duration = Duration::from_secs(15);

pub async fn run(config_path: Option<&Path>, url: Option<&str>) -> ExitCode {
    let url = match url {
        Some(url) => url.to_owned(),
        None => match config::load(config_path) {
            Ok(c) if c.http.listen.is_empty() => {
                eprintln!(
                    "unhealthy: `http.listen` is not set, so Easel serves no /healthz; set [http] listen \
                     (or EASEL__HTTP__LISTEN), or pass --url"
                );
                return ExitCode::FAILURE;
            }
            Ok(c) => healthz_url(&c.http.listen),
            Err(e) => {
                eprintln!("unhealthy: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let client = match reqwest::Client::builder().timeout(TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("unhealthy: cannot make an HTTP client: {e}");
            return ExitCode::FAILURE;
        }
    };
    let response = match client.get(&url).send().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("unhealthy: cannot reach {url}: {}", error_chain(e.without_url()));
            return ExitCode::FAILURE;
        }
    };
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status.is_success() {
        println!("healthy: {url} answered {status}: {body}");
        ExitCode::SUCCESS
    } else {
        eprintln!("unhealthy: {url} answered {status}: {body}");
        ExitCode::FAILURE
    }
}

/// `/healthz` on `listen` (`http.listen`), asked from this machine: an address that listens on
/// every interface (`0.0.0.0:9090`, `[::]:9090`) is reached over loopback.
pub fn healthz_url(listen: &str) -> String {
    let host_port = match listen.parse::<std::net::SocketAddr>() {
        Ok(addr) if addr.ip().is_unspecified() && addr.is_ipv4() => format!("127.0.0.1:{}", addr.port()),
        Ok(addr) if addr.ip().is_unspecified() => format!("[::1]:{}", addr.port()),
        _ => listen.to_owned(),
    };
    format!("http://{host_port}/healthz")
}

/// An error with its causes (`connection refused` sits a few levels down in reqwest's).
fn error_chain(e: reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::healthz_url;

    #[test]
    fn an_address_on_every_interface_is_asked_over_loopback() {
        assert_eq!(healthz_url("0.0.0.0:9090"), "http://127.0.0.1:9090/healthz");
        assert_eq!(healthz_url("[::]:9090"), "http://[::1]:9090/healthz");
        assert_eq!(healthz_url("127.0.0.1:9091"), "http://127.0.0.1:9091/healthz");
        assert_eq!(healthz_url("localhost:9090"), "http://localhost:9090/healthz");
    }
}
