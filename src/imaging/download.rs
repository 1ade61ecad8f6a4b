//! Fetching member images from the network: attachments of `/blend` and `/describe`, and
//! the `link:` of `/describe`.
//!
//! The two are kept apart because they trust different things. An attachment URL comes
//! from Discord, so it is fetched only from Discord's CDN (plus origins the operator named,
//! such as the sandbox's `api_base`). A link is typed by a member and may point anywhere —
//! at the bot's own machine, its LAN, or a cloud metadata endpoint — so it goes through a
//! client of its own that ignores proxies, resolves names through [`GlobalOnly`] (which drops
//! every non-global address), checks IP literals before sending, re-checks every redirect,
//! and talks to ports 80 and 443 only.
//!
//! Both stop reading past the size cap, give up after a timeout, and sniff the bytes
//! ([`super::sniff`]): the declared content type is never trusted. [`DownloadError`]'s
//! `Display` is written for the member and says what to change.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::Url;

use super::Format;
pub use super::address::{GlobalOnly, check_link, is_global};

/// Discord's CDN hosts: the only places attachments are fetched from by default.
pub const DISCORD_CDN_HOSTS: [&str; 2] = ["cdn.discordapp.com", "media.discordapp.net"];
/// Redirect hops a link may take before Easel gives up.
pub const MAX_REDIRECTS: usize = 3;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// Why an image could not be fetched. `Display` is member-facing text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DownloadError {
    #[error(
        "That link points to a private address, which Easel does not fetch. Please link to a public image."
    )]
    PrivateAddress,
    #[error("That link isn't an http:// or https:// address. Please send a web link to the image.")]
    BadScheme,
    #[error("That link uses port {0}; Easel fetches links on the standard web ports (80 and 443) only.")]
    BadPort(u16),
    #[error(
        "That attachment isn't hosted on Discord, so Easel does not fetch it. Please upload the image to Discord."
    )]
    HostNotAllowed,
    #[error("That link isn't a valid web address. Please check it and try again.")]
    BadUrl,
    #[error("The image is {}; the limit is {}. Please send a smaller image.", mib(*size), mib(*limit))]
    TooLarge { size: u64, limit: u64 },
    #[error("The image is larger than the limit of {}. Please send a smaller image.", mib(*limit))]
    TooLargeStreamed { limit: u64 },
    #[error("That file is not a PNG, JPEG, WebP or GIF image. Please send one of those.")]
    NotAnImage,
    #[error("That link redirects more than {MAX_REDIRECTS} times. Please link to the image itself.")]
    TooManyRedirects,
    #[error("The image could not be fetched: the server answered {0}. Please check the link.")]
    Status(u16),
    #[error("The image took too long to download. Please try again or send a smaller image.")]
    Timeout,
    #[error("The image could not be fetched ({0}). Please check the link and try again.")]
    Unreachable(String),
}

/// Sizes as members read them: `10 MiB`, `14.2 MiB`, `512 KiB`.
fn mib(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if bytes < 1024 * 1024 {
        return format!("{} KiB", (bytes as f64 / 1024.0).ceil() as u64);
    }
    let m = bytes as f64 / MIB;
    if bytes.is_multiple_of(1024 * 1024) { format!("{} MiB", m as u64) } else { format!("{m:.1} MiB") }
}

/// An image fetched, sniffed and within the cap.
#[derive(Debug, Clone)]
pub struct Downloaded {
    pub bytes: Bytes,
    pub format: Format,
}

#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// Largest image accepted, in bytes.
    pub max_bytes: u64,
    /// For the whole request, body included.
    pub timeout: Duration,
    /// Origins besides Discord's CDN that attachments may come from, e.g.
    /// `http://127.0.0.1:5555` for the sandbox named by `discord.api_base`.
    pub extra_attachment_origins: Vec<String>,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            max_bytes: 10 << 20,
            timeout: DEFAULT_TIMEOUT,
            extra_attachment_origins: Vec::new(),
        }
    }
}

/// The two fetchers, built once and shared.
#[derive(Clone)]
pub struct Downloader {
    attachments: reqwest::Client,
    links: reqwest::Client,
    extra_origins: Vec<Url>,
    max_bytes: u64,
}

impl Downloader {
    pub fn new(opts: DownloadOptions) -> anyhow::Result<Downloader> {
        let extra_origins = opts
            .extra_attachment_origins
            .iter()
            .filter(|o| !o.trim().is_empty())
            .map(|o| Url::parse(o).map_err(|e| anyhow::anyhow!("attachment origin `{o}`: {e}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let attachments = reqwest::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
            // An allowed host must not bounce the fetch elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let links = reqwest::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
            // A proxy would resolve the name itself, out of reach of `GlobalOnly`.
            .no_proxy()
            .dns_resolver(Arc::new(GlobalOnly))
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                if attempt.previous().len() > MAX_REDIRECTS {
                    return attempt.error(Refused(DownloadError::TooManyRedirects));
                }
                match check_link(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(e) => attempt.error(Refused(e)),
                }
            }))
            .build()?;
        Ok(Downloader { attachments, links, extra_origins, max_bytes: opts.max_bytes })
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// A Discord attachment; `declared_size` is the size Discord reports for it, checked
    /// before anything is downloaded.
    pub async fn attachment(
        &self,
        url: &str,
        declared_size: Option<u64>,
    ) -> Result<Downloaded, DownloadError> {
        if let Some(size) = declared_size.filter(|s| *s > self.max_bytes) {
            return Err(DownloadError::TooLarge { size, limit: self.max_bytes });
        }
        let url = Url::parse(url).map_err(|_| DownloadError::BadUrl)?;
        if !self.attachment_allowed(&url) {
            return Err(DownloadError::HostNotAllowed);
        }
        self.fetch(&self.attachments, url).await
    }

    /// A link a member typed.
    pub async fn link(&self, url: &str) -> Result<Downloaded, DownloadError> {
        let url = Url::parse(url.trim()).map_err(|_| DownloadError::BadUrl)?;
        check_link(&url)?;
        self.fetch(&self.links, url).await
    }

    fn attachment_allowed(&self, url: &Url) -> bool {
        let cdn = url.scheme() == "https"
            && url.port().is_none()
            && url.host_str().is_some_and(|h| DISCORD_CDN_HOSTS.contains(&h.to_ascii_lowercase().as_str()));
        cdn || self.extra_origins.iter().any(|o| {
            o.scheme() == url.scheme()
                && o.host_str() == url.host_str()
                && o.port_or_known_default() == url.port_or_known_default()
        })
    }

    async fn fetch(&self, client: &reqwest::Client, url: Url) -> Result<Downloaded, DownloadError> {
        let mut resp = client.get(url).send().await.map_err(classify)?;
        if !resp.status().is_success() {
            return Err(DownloadError::Status(resp.status().as_u16()));
        }
        if let Some(size) = resp.content_length().filter(|s| *s > self.max_bytes) {
            return Err(DownloadError::TooLarge { size, limit: self.max_bytes });
        }
        let mut body = BytesMut::new();
        // Streamed so a server that lies about (or omits) its length costs at most the cap.
        while let Some(chunk) = resp.chunk().await.map_err(classify)? {
            if (body.len() + chunk.len()) as u64 > self.max_bytes {
                return Err(DownloadError::TooLargeStreamed { limit: self.max_bytes });
            }
            body.extend_from_slice(&chunk);
        }
        let bytes = body.freeze();
        let format = super::sniff(&bytes).map_err(|_| DownloadError::NotAnImage)?;
        Ok(Downloaded { bytes, format })
    }
}

/// Carries a refusal through reqwest's error chain (from the resolver or redirect policy).
#[derive(Debug)]
pub(super) struct Refused(pub(super) DownloadError);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Refused {}

fn classify(e: reqwest::Error) -> DownloadError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(c) = cause {
        if let Some(Refused(inner)) = c.downcast_ref::<Refused>() {
            return inner.clone();
        }
        cause = c.source();
    }
    if e.is_timeout() {
        return DownloadError::Timeout;
    }
    if e.is_redirect() {
        return DownloadError::TooManyRedirects;
    }
    let what = if e.is_connect() { "the server could not be reached" } else { "the connection failed" };
    DownloadError::Unreachable(what.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(s: &str) -> bool {
        is_global(s.parse().unwrap())
    }

    #[test]
    fn public_addresses_are_global() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.1.1",
            "192.169.0.1",
            "169.253.1.1",
            "198.20.0.1",
            "223.255.255.254",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:0808:0808::1",
        ] {
            assert!(global(ip), "{ip} should be global");
        }
    }

    #[test]
    fn private_and_special_ipv4_are_refused() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "192.168.255.255",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "198.19.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!global(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn private_and_special_ipv6_are_refused() {
        for ip in [
            "::",
            "::1",
            "fc00::1",
            "fd12:3456:789a::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "2001:db8::1",
            "3fff::1",
            "100::1",
            "2001::1",
        ] {
            assert!(!global(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn ipv6_forms_of_private_ipv4_are_judged_by_the_ipv4() {
        for ip in [
            "::ffff:127.0.0.1",
            "::ffff:7f00:1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::ffff:192.168.1.1",
            "::ffff:100.64.0.1",
            "::ffff:0.0.0.0",
            "::127.0.0.1",
            "::10.0.0.1",
            "::ffff:0:127.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::10.0.0.1",
            "2002:7f00:0001::1",
            "2002:c0a8:0101::1",
            "2002:a9fe:a9fe::",
        ] {
            assert!(!global(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn links_are_checked_before_sending() {
        let check = |s: &str| check_link(&Url::parse(s).unwrap());
        assert_eq!(check("https://example.com/a.png"), Ok(()));
        assert_eq!(check("http://example.com:80/a.png"), Ok(()));
        assert_eq!(check("https://93.184.216.34/a.png"), Ok(()));
        assert_eq!(check("ftp://example.com/a.png"), Err(DownloadError::BadScheme));
        assert_eq!(check("file:///etc/passwd"), Err(DownloadError::BadScheme));
        assert_eq!(check("https://example.com:8443/a.png"), Err(DownloadError::BadPort(8443)));
        assert_eq!(check("http://127.0.0.1/a.png"), Err(DownloadError::PrivateAddress));
        assert_eq!(check("http://169.254.169.254/latest/meta-data"), Err(DownloadError::PrivateAddress));
        assert_eq!(check("http://[::1]/a.png"), Err(DownloadError::PrivateAddress));
        assert_eq!(check("http://[::ffff:127.0.0.1]/a.png"), Err(DownloadError::PrivateAddress));
        assert_eq!(check("http://[fd00::1]/a.png"), Err(DownloadError::PrivateAddress));
        // Odd spellings of loopback are normalised by the URL parser before the check.
        assert_eq!(check("http://2130706433/a.png"), Err(DownloadError::PrivateAddress));
        assert_eq!(check("http://0x7f.1/a.png"), Err(DownloadError::PrivateAddress));
        assert_eq!(check("http://0/a.png"), Err(DownloadError::PrivateAddress));
    }

    #[test]
    fn sizes_read_like_a_member_expects() {
        assert_eq!(mib(10 << 20), "10 MiB");
        assert_eq!(mib(14_889_779), "14.2 MiB");
        assert_eq!(mib(2048), "2 KiB");
        let e = DownloadError::TooLarge { size: 14_889_779, limit: 10 << 20 };
        assert!(e.to_string().starts_with("The image is 14.2 MiB; the limit is 10 MiB."), "{e}");
    }

    #[test]
    fn attachments_come_from_discords_cdn_or_a_named_origin() {
        let d = Downloader::new(DownloadOptions {
            extra_attachment_origins: vec!["http://127.0.0.1:5555".into()],
            ..Default::default()
        })
        .unwrap();
        let ok = |s: &str| d.attachment_allowed(&Url::parse(s).unwrap());
        assert!(ok("https://cdn.discordapp.com/attachments/1/2/a.png?ex=1"));
        assert!(ok("https://media.discordapp.net/attachments/1/2/a.png"));
        assert!(ok("http://127.0.0.1:5555/attachments/1/2/a.png"));
        assert!(!ok("http://cdn.discordapp.com/attachments/1/2/a.png"));
        assert!(!ok("https://cdn.discordapp.com.evil.example/a.png"));
        assert!(!ok("http://127.0.0.1:5556/a.png"));
        assert!(!ok("https://example.com/a.png"));
    }
}
