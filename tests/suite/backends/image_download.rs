//! The image downloader against a real HTTP server on 127.0.0.1: the link fetcher refuses to
//! reach it (as an IP literal and through a name that resolves to it), while the attachment
//! fetcher, with that origin allowed as the sandbox's would be, fetches from it — within the
//! size cap and only for real images.

use std::net::SocketAddr;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use easel::imaging::{DownloadError, DownloadOptions, Downloader, Format};

fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]));
    easel::imaging::encode_png(&img).unwrap()
}

/// Serves `/a.png`, `/text` (not an image), `/big` (declares its size), `/chunked` (does not).
async fn serve() -> SocketAddr {
    let png = png();
    let big = vec![0u8; 64 * 1024];
    let chunked = big.clone();
    let app = Router::new()
        .route("/a.png", get(move || async move { ([(header::CONTENT_TYPE, "image/png")], png) }))
        .route("/text", get(|| async { ([(header::CONTENT_TYPE, "image/png")], "hello, not an image") }))
        .route("/big", get(move || async move { big }))
        .route(
            "/chunked",
            get(move || async move {
                let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
                    chunked.chunks(4096).map(|c| Ok(c.to_vec())).collect();
                axum::body::Body::from_stream(futures::stream::iter(chunks))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn downloader(addr: SocketAddr, max_bytes: u64) -> Downloader {
    Downloader::new(DownloadOptions {
        max_bytes,
        extra_attachment_origins: vec![format!("http://{addr}")],
        ..Default::default()
    })
    .unwrap()
}

#[tokio::test]
async fn links_to_the_local_machine_are_refused_but_allowed_attachments_are_fetched() {
    let addr = serve().await;
    let d = downloader(addr, 10 << 20);
    let port = addr.port();

    let got = d.attachment(&format!("http://{addr}/a.png?ex=1"), Some(100)).await.unwrap();
    assert_eq!(got.format, Format::Png);
    assert_eq!(&got.bytes[..], &png()[..]);

    // The same server as a link: refused before anything is sent, whatever the port.
    for url in [
        format!("http://127.0.0.1:{port}/a.png"),
        "http://127.0.0.1/a.png".to_string(),
        "http://[::1]/a.png".to_string(),
        "http://[::ffff:127.0.0.1]/a.png".to_string(),
    ] {
        let e = d.link(&url).await.unwrap_err();
        assert!(matches!(e, DownloadError::PrivateAddress | DownloadError::BadPort(_)), "{url}: {e:?}");
    }
    assert_eq!(d.link("http://127.0.0.1/a.png").await.unwrap_err(), DownloadError::PrivateAddress);
    // A name is checked when it is resolved: `localhost` leads only to loopback.
    let e = d.link("http://localhost/a.png").await.unwrap_err();
    assert_eq!(e, DownloadError::PrivateAddress);
    assert!(e.to_string().contains("private address"), "{e}");
    assert_eq!(d.link("ftp://example.com/a.png").await.unwrap_err(), DownloadError::BadScheme);
}

#[tokio::test]
async fn attachments_from_elsewhere_too_big_or_not_images_are_refused() {
    let addr = serve().await;
    let d = downloader(addr, 16 * 1024);
    assert_eq!(
        d.attachment("https://example.com/a.png", None).await.unwrap_err(),
        DownloadError::HostNotAllowed
    );
    // Discord's declared size is enough to refuse, before any download.
    let e = d.attachment(&format!("http://{addr}/a.png"), Some(15_000_000)).await.unwrap_err();
    assert_eq!(e, DownloadError::TooLarge { size: 15_000_000, limit: 16 * 1024 });
    assert!(e.to_string().starts_with("The image is 14.3 MiB; the limit is 16 KiB."), "{e}");
    // The server's Content-Length, then the streamed body itself.
    assert!(matches!(
        d.attachment(&format!("http://{addr}/big"), None).await.unwrap_err(),
        DownloadError::TooLarge { size: 65536, .. }
    ));
    assert_eq!(
        d.attachment(&format!("http://{addr}/chunked"), None).await.unwrap_err(),
        DownloadError::TooLargeStreamed { limit: 16 * 1024 }
    );
    let e = d.attachment(&format!("http://{addr}/text"), None).await.unwrap_err();
    assert_eq!(e, DownloadError::NotAnImage);
    assert_eq!(e.to_string(), "That file is not a PNG, JPEG, WebP or GIF image. Please send one of those.");
    assert_eq!(
        d.attachment(&format!("http://{addr}/nope"), None).await.unwrap_err(),
        DownloadError::Status(404)
    );
}
