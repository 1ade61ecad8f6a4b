//! Progress and live previews while txt2img or img2img is in flight, read from
//! `GET /sdapi/v1/progress`. That endpoint describes the server's one current job, whoever
//! started it, and says nothing that ties it to a request. So it is only read while one of
//! Easel's image calls is in flight, and the adapter sends its image calls one at a time (see
//! `A1111Backend::gpu`), so the reading belongs to that call as far as Easel's own jobs go; a
//! person using the web UI at the same moment can still show up in it. Readings of an idle
//! server (the call still queued, or a model still loading) are skipped, and the percentage
//! never goes backwards.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;

use super::client::{Api, Endpoint};
use super::images;
use super::wire::ProgressResponse;
use crate::backends::ProgressSink;

/// Reports progress to `sink` every `every` until dropped, which is how it stops: the caller
/// races it against the image call.
pub(super) async fn watch(api: &Api, sink: &ProgressSink, every: Duration) -> Infallible {
    let mut reported = Reported::default();
    loop {
        tokio::time::sleep(every).await;
        // A failed reading is only a missed update; the image call decides the outcome.
        let Ok(body) = api.get(Endpoint::Progress).await else { continue };
        let Ok(reading) = serde_json::from_slice::<ProgressResponse>(&body) else { continue };
        if let Some((percent, preview)) = reported.next(&reading) {
            sink.percent(percent, preview);
        }
    }
}

/// What was last reported, so that only news is sent.
#[derive(Debug, Default)]
struct Reported {
    percent: u8,
    preview: Option<Bytes>,
}

impl Reported {
    /// The update a reading calls for, if any.
    fn next(&mut self, reading: &ProgressResponse) -> Option<(u8, Option<Bytes>)> {
        if reading.state.as_ref().is_some_and(|s| s.job_count == 0) {
            return None;
        }
        // 100 % is for the finished job, which only the image call's answer can say.
        let percent = ((reading.progress * 100.0).floor().clamp(1.0, 99.0) as u8).max(self.percent);
        let preview = reading
            .current_image
            .as_deref()
            .filter(|b64| !b64.is_empty())
            // A broken preview is dropped; it must not fail the job.
            .and_then(|b64| images::decode(b64, "progress preview").ok())
            .filter(|bytes| self.preview.as_ref() != Some(bytes));
        if percent == self.percent && preview.is_none() {
            return None;
        }
        self.percent = percent;
        if let Some(bytes) = &preview {
            self.preview = Some(bytes.clone());
        }
        Some((percent, preview))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde_json::json;

    fn reading(progress: f64, job_count: i64, image: Option<String>) -> ProgressResponse {
        serde_json::from_value(json!({
            "progress": progress, "eta_relative": 1.0,
            "state": {"job_count": job_count, "sampling_step": 3, "sampling_steps": 20},
            "current_image": image, "textinfo": null
        }))
        .unwrap()
    }

    fn png(shade: u8) -> String {
        let img = image::RgbImage::from_pixel(4, 4, image::Rgb([shade, 0, 0]));
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Png).unwrap();
        STANDARD.encode(out.into_inner())
    }

    #[test]
    fn only_news_is_reported_and_percent_never_falls() {
        let mut r = Reported::default();
        assert!(r.next(&reading(0.0, 0, None)).is_none(), "an idle server says nothing");
        assert_eq!(r.next(&reading(0.01, 1, None)).map(|u| u.0), Some(1));
        assert!(r.next(&reading(0.012, 1, None)).is_none(), "no news");
        let (p, preview) = r.next(&reading(0.4, 1, Some(png(1)))).unwrap();
        assert_eq!(p, 40);
        assert!(preview.is_some());
        assert!(r.next(&reading(0.4, 1, Some(png(1)))).is_none(), "the same preview again");
        assert_eq!(r.next(&reading(0.2, 1, Some(png(2)))).map(|u| u.0), Some(40), "never backwards");
        assert_eq!(r.next(&reading(1.0, 1, None)).map(|u| u.0), Some(99));
        assert!(r.next(&reading(1.0, 1, Some("%%%".into()))).is_none(), "a broken preview is dropped");
    }
}
