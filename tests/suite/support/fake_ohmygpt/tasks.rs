//! The task model of the ohmygpt fake: a task's steps and how it reads at each, as the
//! documented 15-field object with the Discord bot's customIds in `actions`, and the images
//! served for it.

use serde_json::{Value, json};

use super::Knobs;
use crate::support::fake_mj_proxy::{grid, solid};

#[derive(Debug, Clone)]
pub struct FakeTask {
    pub action: &'static str,
    pub prompt: String,
    pub pool: String,
    /// 0 NOT_START, 1 SUBMITTED, 2–4 IN_PROGRESS, 5 final.
    pub step: usize,
    pub webhook: Option<String>,
    /// The grid image an upscale took (1-based).
    pub index: u8,
    pub fail_reason: Option<String>,
}

pub const STEPS: usize = 5;

impl FakeTask {
    /// The task object, with the 15 documented fields.
    pub fn to_json(&self, id: u64, knobs: &Knobs, cdn: &str) -> Value {
        let (status, progress) = match self.step {
            0 => ("NOT_START", "0%"),
            1 => ("SUBMITTED", "0%"),
            2 => ("IN_PROGRESS", "10%"),
            3 => ("IN_PROGRESS", "37%"),
            4 => ("IN_PROGRESS", "80%"),
            _ if self.fail_reason.is_some() => ("FAILURE", ""),
            _ => ("SUCCESS", "100%"),
        };
        let done = status == "SUCCESS" && self.action != "DESCRIBE";
        let dc_url = match status {
            "IN_PROGRESS" if progress != "10%" => {
                json!(format!("{cdn}/fake-cdn/{id}-p{}.png", &progress[..2]))
            }
            _ if done => json!(format!("{cdn}/fake-cdn/{id}.png")),
            _ => Value::Null,
        };
        let s3_url =
            if done && knobs.s3_copies { json!(format!("{cdn}/fake-s3/{id}.png")) } else { Value::Null };
        let prompt = if status == "SUCCESS" && self.action == "DESCRIBE" {
            knobs.describe_text.clone()
        } else {
            self.prompt.clone()
        };
        let actions = if done { actions(id, self.action) } else { json!([]) };
        let time =
            |step: usize| if self.step >= step { json!("2023-08-31T13:59:14.000Z") } else { Value::Null };
        json!({
            "taskId": id, "taskType": self.pool, "status": status, "action": self.action, "progress": progress,
            "description": format!("/{} {}", self.action.to_lowercase(), self.prompt), "prompt": prompt,
            "failReason": if status == "FAILURE" { json!(self.fail_reason) } else { Value::Null },
            "submitTime": time(0), "startTime": time(2), "finishTime": time(STEPS),
            "webhookUrl": self.webhook.clone().unwrap_or_default(), "imageDcUrl": dc_url, "imageS3Url": s3_url,
            "actions": actions,
        })
    }

    /// The PNG served for it: a small grid while in progress, the grid in the blend's shape, or
    /// an upscale in the colour of the image it took.
    pub fn image(&self, preview: bool) -> Vec<u8> {
        match (preview, self.action, self.prompt.as_str()) {
            (true, _, _) => grid(32, 32),
            (_, "UPSCALE", _) => solid(64, 64, self.index),
            (_, _, "PORTRAIT") => grid(96, 144),
            (_, _, "LANDSCAPE") => grid(144, 96),
            _ => grid(128, 128),
        }
    }
}

/// The Discord bot's customIds under a grid, or under an upscaled image.
fn actions(id: u64, action: &str) -> Value {
    let hash = format!("{id:x}-5e1f-4a0b-9c3d");
    let a = |custom: String, emoji: &str, label: &str| json!({"customId": custom, "emoji": emoji, "label": label});
    if action == "UPSCALE" {
        return json!([
            a(format!("MJ::JOB::upsample_v6_2x_subtle::1::{hash}::SOLO"), "", "Upscale (Subtle)"),
            a(format!("MJ::JOB::upsample_v6_2x_creative::1::{hash}::SOLO"), "", "Upscale (Creative)"),
            a(format!("MJ::JOB::low_variation::1::{hash}::SOLO"), "🪄", "Vary (Subtle)"),
            a(format!("MJ::JOB::high_variation::1::{hash}::SOLO"), "🪄", "Vary (Strong)"),
            a(format!("MJ::Inpaint::1::{hash}::SOLO"), "🖌️", "Vary (Region)"),
            a(format!("MJ::Outpaint::50::1::{hash}::SOLO"), "🔍", "Zoom Out 2x"),
            a(format!("MJ::JOB::pan_left::1::{hash}::SOLO"), "⬅️", ""),
        ]);
    }
    let mut list: Vec<Value> =
        (1..=4).map(|i| a(format!("MJ::JOB::upsample::{i}::{hash}"), "", &format!("U{i}"))).collect();
    list.push(a(format!("MJ::JOB::reroll::0::{hash}::SOLO"), "🔄", ""));
    list.extend((1..=4).map(|i| a(format!("MJ::JOB::variation::{i}::{hash}"), "", &format!("V{i}"))));
    Value::Array(list)
}
