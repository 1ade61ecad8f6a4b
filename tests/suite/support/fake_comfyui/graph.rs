//! What the fake ComfyUI knows about workflows: the node classes Easel's templates use, their
//! inputs and types, validation errors in the shapes `POST /prompt` answers with (400
//! `{error, node_errors}`), and running a graph to images. Like the real server it converts
//! nothing silently: a placeholder left as `"{{seed}}"` where an INT belongs is refused.
//!
//! Inpainting follows ComfyUI's conventions: `LoadImage`'s second output is its MASK, 1 − alpha
//! (an image without alpha gives a blank 64×64 mask, as the real node does); `LoadImageMask`
//! reads one channel (alpha inverted); `SetLatentNoiseMask` and `VAEEncodeForInpaint` keep the
//! mask with the latent, and the sampler only changes pixels under it. Stricter than the real
//! server, a mask whose size is not the image's fails the prompt (the real one would stretch
//! it silently over the wrong pixels).

use std::collections::HashMap;
use std::io::Cursor;

use image::{GrayImage, Luma, Rgb, RgbImage};
use serde_json::{Map, Value, json};

#[derive(Clone, Copy, PartialEq)]
enum Ty {
    Int,
    Float,
    Text,
    Link,
}

/// The node classes the fake has, with their required inputs.
fn schema(class: &str) -> Option<&'static [(&'static str, Ty)]> {
    use Ty::*;
    Some(match class {
        "CheckpointLoaderSimple" => &[("ckpt_name", Text)],
        "CLIPTextEncode" => &[("text", Text), ("clip", Link)],
        "EmptyLatentImage" => &[("width", Int), ("height", Int), ("batch_size", Int)],
        "KSampler" => &[
            ("seed", Int),
            ("steps", Int),
            ("cfg", Float),
            ("sampler_name", Text),
            ("scheduler", Text),
            ("denoise", Float),
            ("model", Link),
            ("positive", Link),
            ("negative", Link),
            ("latent_image", Link),
        ],
        "VAEDecode" => &[("samples", Link), ("vae", Link)],
        "VAEEncode" => &[("pixels", Link), ("vae", Link)],
        "RepeatLatentBatch" => &[("samples", Link), ("amount", Int)],
        "LoadImage" => &[("image", Text)],
        "LoadImageMask" => &[("image", Text), ("channel", Text)],
        "SetLatentNoiseMask" => &[("samples", Link), ("mask", Link)],
        "VAEEncodeForInpaint" => &[("pixels", Link), ("vae", Link), ("mask", Link), ("grow_mask_by", Int)],
        "UpscaleModelLoader" => &[("model_name", Text)],
        "ImageUpscaleWithModel" => &[("upscale_model", Link), ("image", Link)],
        "ImageScaleBy" => &[("upscale_method", Text), ("scale_by", Float), ("image", Link)],
        "SaveImage" => &[("images", Link), ("filename_prefix", Text)],
        "PreviewImage" => &[("images", Link)],
        _ => return None,
    })
}

pub fn is_output(class: &str) -> bool {
    matches!(class, "SaveImage" | "PreviewImage")
}

/// What the server has, for checking names.
pub struct Env<'a> {
    pub checkpoints: &'a [String],
    pub upscale_models: &'a [String],
    pub input: &'a (dyn Fn(&str) -> Option<Vec<u8>> + Sync),
}

fn item(kind: &str, message: &str, details: &str) -> Value {
    json!({"type": kind, "message": message, "details": details, "extra_info": {}})
}

fn invalid(kind: &str, message: &str, details: &str) -> Value {
    json!({"error": item(kind, message, details), "node_errors": {}})
}

/// The output node ids of a valid workflow, or the 400 body the real server would send.
pub fn validate(prompt: &Value, env: &Env) -> Result<Vec<String>, Value> {
    let Some(nodes) = prompt.as_object() else {
        return Err(invalid("invalid_prompt", "Invalid prompt", "the prompt is not an object"));
    };
    for (id, node) in nodes {
        let class = node.get("class_type").and_then(Value::as_str).unwrap_or("");
        if class.is_empty() || !node.get("inputs").is_some_and(Value::is_object) {
            return Err(invalid(
                "invalid_prompt",
                "Cannot execute because a node is missing the class_type property.",
                &format!("Node ID '#{id}'"),
            ));
        }
        if schema(class).is_none() {
            return Err(invalid(
                "invalid_prompt",
                &format!("Cannot execute because node {class} does not exist."),
                &format!("Node ID '#{id}'"),
            ));
        }
    }
    let outputs: Vec<String> = nodes
        .iter()
        .filter(|(_, n)| is_output(n["class_type"].as_str().unwrap_or("")))
        .map(|(id, _)| id.clone())
        .collect();
    if outputs.is_empty() {
        return Err(invalid("prompt_no_outputs", "Prompt has no outputs", ""));
    }
    let mut node_errors = Map::new();
    for (id, node) in nodes {
        let class = node["class_type"].as_str().unwrap_or("");
        let inputs = node["inputs"].as_object().cloned().unwrap_or_default();
        let errors: Vec<Value> = node_problems(nodes, class, &inputs, env);
        if !errors.is_empty() {
            node_errors.insert(
                id.clone(),
                json!({"errors": errors, "dependent_outputs": outputs, "class_type": class}),
            );
        }
    }
    if node_errors.is_empty() {
        Ok(outputs)
    } else {
        Err(json!({"error": item("prompt_outputs_failed_validation", "Prompt outputs failed validation", ""),
                   "node_errors": node_errors}))
    }
}

fn node_problems(
    nodes: &Map<String, Value>,
    class: &str,
    inputs: &Map<String, Value>,
    env: &Env,
) -> Vec<Value> {
    let mut errors = Vec::new();
    for &(name, ty) in schema(class).unwrap_or(&[]) {
        let Some(v) = inputs.get(name) else {
            errors.push(item("required_input_missing", "Required input is missing", name));
            continue;
        };
        let ok = match ty {
            Ty::Int => v.is_i64() || v.is_u64(),
            Ty::Float => v.is_number(),
            Ty::Text => v.is_string(),
            Ty::Link => v.as_array().is_some_and(|l| {
                l.len() == 2 && l[0].as_str().is_some_and(|t| nodes.contains_key(t)) && l[1].is_u64()
            }),
        };
        if !ok {
            let kind = if ty == Ty::Link { "bad_linked_input" } else { "invalid_input_type" };
            errors.push(item(kind, "Failed to convert an input value", &format!("{name}, {v}")));
        }
    }
    let text = |k: &str| inputs.get(k).and_then(Value::as_str).unwrap_or("");
    let not_in = |k: &str, have: &[String]| {
        let v = text(k);
        (!have.iter().any(|h| h == v))
            .then(|| item("value_not_in_list", "Value not in list", &format!("{k}: '{v}' not in {have:?}")))
    };
    match class {
        "CheckpointLoaderSimple" => errors.extend(not_in("ckpt_name", env.checkpoints)),
        "UpscaleModelLoader" => errors.extend(not_in("model_name", env.upscale_models)),
        "LoadImage" | "LoadImageMask" if (env.input)(text("image")).is_none() => errors.push(item(
            "custom_validation_failed",
            "Custom validation failed for node",
            &format!("image - Invalid image file: {}", text("image")),
        )),
        _ => {}
    }
    errors
}

/// A value flowing along a link.
#[derive(Clone)]
pub enum Val {
    Latent {
        count: usize,
        w: u32,
        h: u32,
        seed: Option<u64>,
        denoise: f64,
        base: Vec<RgbImage>,
        /// The noise mask: only pixels above half are sampled.
        mask: Option<GrayImage>,
    },
    Images(Vec<RgbImage>),
    Mask(GrayImage),
    /// The prompt fails at this node with this message.
    Failed(String),
    Other,
}

/// Runs output `slot` of node `id` (and what it needs), memoised in `done`.
pub fn eval(
    nodes: &Map<String, Value>,
    id: &str,
    slot: u64,
    done: &mut HashMap<(String, u64), Val>,
    env: &Env,
) -> Val {
    if let Some(v) = done.get(&(id.to_string(), slot)) {
        return v.clone();
    }
    let node = &nodes[id];
    let inputs = node["inputs"].as_object().cloned().unwrap_or_default();
    let mut link = |k: &str| {
        let from = inputs[k][0].as_str().unwrap_or("").to_string();
        eval(nodes, &from, inputs[k][1].as_u64().unwrap_or(0), done, env)
    };
    let int = |k: &str| inputs[k].as_u64().unwrap_or(0);
    let float = |k: &str| inputs[k].as_f64().unwrap_or(0.0);
    let out = match node["class_type"].as_str().unwrap_or("") {
        "EmptyLatentImage" => Val::Latent {
            count: int("batch_size") as usize,
            w: int("width") as u32,
            h: int("height") as u32,
            seed: None,
            denoise: 1.0,
            base: Vec::new(),
            mask: None,
        },
        "LoadImage" => {
            let bytes = (env.input)(inputs["image"].as_str().unwrap_or("")).unwrap_or_default();
            let Ok(img) = image::load_from_memory(&bytes) else { return Val::Images(Vec::new()) };
            match slot {
                0 => Val::Images(vec![img.to_rgb8()]),
                _ if img.color().has_alpha() => Val::Mask(channel(&img, 3)),
                _ => Val::Mask(GrayImage::new(64, 64)),
            }
        }
        "LoadImageMask" => {
            let bytes = (env.input)(inputs["image"].as_str().unwrap_or("")).unwrap_or_default();
            let Ok(img) = image::load_from_memory(&bytes) else {
                return Val::Failed("unreadable mask".into());
            };
            let c =
                ["red", "green", "blue", "alpha"].iter().position(|c| inputs["channel"] == *c).unwrap_or(0);
            Val::Mask(channel(&img, c))
        }
        "VAEEncode" => encode(link("pixels")),
        "VAEEncodeForInpaint" | "SetLatentNoiseMask" => {
            let latent = if inputs.contains_key("pixels") { encode(link("pixels")) } else { link("samples") };
            match (latent, link("mask")) {
                (Val::Latent { count, w, h, seed, denoise, base, .. }, Val::Mask(m)) => {
                    if m.dimensions() != (w, h) {
                        return Val::Failed(format!(
                            "the fake refuses a {}x{} mask for a {w}x{h} image",
                            m.width(),
                            m.height()
                        ));
                    }
                    Val::Latent { count, w, h, seed, denoise, base, mask: Some(m) }
                }
                (Val::Failed(e), _) | (_, Val::Failed(e)) => Val::Failed(e),
                _ => Val::Failed("a noise mask needs a latent and a mask".into()),
            }
        }
        "RepeatLatentBatch" => match link("samples") {
            Val::Latent { count, w, h, seed, denoise, base, mask } => {
                let n = int("amount") as usize;
                let base = base.iter().cycle().take(base.len() * n).cloned().collect();
                Val::Latent { count: count * n, w, h, seed, denoise, base, mask }
            }
            other => other,
        },
        "KSampler" => match link("latent_image") {
            Val::Latent { count, w, h, base, mask, .. } => {
                Val::Latent { count, w, h, seed: Some(int("seed")), denoise: float("denoise"), base, mask }
            }
            other => other,
        },
        "VAEDecode" => match link("samples") {
            Val::Latent { count, w, h, seed, denoise, base, mask } => Val::Images(
                (0..count)
                    .map(|i| {
                        let colour = colour(seed.unwrap_or(0), i);
                        match base.get(i) {
                            Some(b) => blend(b, colour, denoise, mask.as_ref()),
                            None => RgbImage::from_pixel(w, h, colour),
                        }
                    })
                    .collect(),
            ),
            other => other,
        },
        "ImageUpscaleWithModel" => scale(link("image"), 4.0),
        "ImageScaleBy" => scale(link("image"), float("scale_by")),
        "SaveImage" | "PreviewImage" => link("images"),
        _ => Val::Other,
    };
    done.insert((id.to_string(), slot), out.clone());
    out
}

fn encode(pixels: Val) -> Val {
    match pixels {
        Val::Images(imgs) => {
            let (w, h) = imgs.first().map_or((8, 8), |i| (i.width(), i.height()));
            Val::Latent { count: imgs.len(), w, h, seed: None, denoise: 1.0, base: imgs, mask: None }
        }
        other => other,
    }
}

/// Channel `c` (0–3) as a mask, alpha inverted as ComfyUI's loaders do.
fn channel(img: &image::DynamicImage, c: usize) -> GrayImage {
    let rgba = img.to_rgba8();
    GrayImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let v = rgba.get_pixel(x, y)[c];
        Luma([if c == 3 { 255 - v } else { v }])
    })
}

fn scale(v: Val, by: f64) -> Val {
    match v {
        Val::Images(imgs) => Val::Images(
            imgs.iter()
                .map(|i| {
                    let (w, h) =
                        ((i.width() as f64 * by).round() as u32, (i.height() as f64 * by).round() as u32);
                    image::imageops::resize(i, w.max(1), h.max(1), image::imageops::FilterType::Nearest)
                })
                .collect(),
        ),
        other => other,
    }
}

/// A colour unique to image `index` of the batch drawn from `seed`.
fn colour(seed: u64, index: usize) -> Rgb<u8> {
    let n = seed.wrapping_mul(4).wrapping_add(index as u64);
    let channel = |k: u64, c: u64| n.wrapping_mul(k).wrapping_add(c) as u8;
    Rgb([channel(67, 40), channel(131, 90), channel(199, 150)])
}

/// img2img: the input moved towards the new colour by `denoise`, only under the noise mask
/// when there is one.
fn blend(base: &RgbImage, colour: Rgb<u8>, denoise: f64, mask: Option<&GrayImage>) -> RgbImage {
    let mut out = base.clone();
    for (x, y, p) in out.enumerate_pixels_mut() {
        if mask.is_some_and(|m| m.get_pixel(x, y)[0] < 128) {
            continue;
        }
        for c in 0..3 {
            p[c] = (p[c] as f64 * (1.0 - denoise) + colour[c] as f64 * denoise).round() as u8;
        }
    }
    out
}

/// Image `index` of a txt2img batch of `w`×`h` from `seed`, as the fake encodes it.
pub fn batch_png(w: u32, h: u32, seed: u64, index: usize) -> Vec<u8> {
    png(&RgbImage::from_pixel(w, h, colour(seed, index)))
}

pub fn png(img: &RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img.clone())
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encode a PNG");
    out.into_inner()
}
