//! Workflow templates: a ComfyUI workflow in its API format (`{"<node id>": {"class_type",
//! "inputs"}}`, what "Export (API)" saves) in which some input values are placeholders that
//! Easel fills for each job.
//!
//! A placeholder is a JSON string that is exactly `"{{name}}"`, wherever a value can go:
//! `"text": "{{prompt}}"`, `"seed": "{{seed}}"`. It is replaced after the JSON is parsed, by a
//! JSON string for text placeholders and by a JSON number for numeric ones, so a prompt with
//! quotes or braces is only ever a string value and can never change the workflow's shape.
//! A placeholder inside a longer string (`"a photo of {{prompt}}"`) is refused rather than
//! half-filled. Templates are checked once, when the backend is built: each operation has the
//! placeholders it needs and may only use those it can fill.

use std::collections::BTreeSet;

use anyhow::anyhow;
use serde_json::{Map, Value};

pub(super) use super::placeholder::{Placeholder, Workflow};

/// One checked template.
#[derive(Debug, Clone)]
pub(super) struct Template {
    /// The file it came from, or "the built-in … workflow", for messages.
    pub origin: String,
    graph: Value,
    used: BTreeSet<Placeholder>,
}

/// The values of one job; `None` only where the operation has no such value. Numbers become
/// JSON numbers and text JSON strings.
#[derive(Debug, Clone, Default)]
pub(super) struct Values {
    pub prompt: String,
    pub negative_prompt: String,
    pub seed: u32,
    pub width: u32,
    pub height: u32,
    pub batch_size: u32,
    pub image: Option<String>,
    pub mask: Option<String>,
    pub reference_image: Option<String>,
    pub denoise: Option<f64>,
    pub model: Option<String>,
}

impl Values {
    fn get(&self, p: Placeholder) -> Option<Value> {
        Some(match p {
            Placeholder::Prompt => Value::from(self.prompt.as_str()),
            Placeholder::NegativePrompt => Value::from(self.negative_prompt.as_str()),
            Placeholder::Seed => Value::from(self.seed),
            Placeholder::Width => Value::from(self.width),
            Placeholder::Height => Value::from(self.height),
            Placeholder::BatchSize => Value::from(self.batch_size),
            Placeholder::Image => Value::from(self.image.clone()?),
            Placeholder::Mask => Value::from(self.mask.clone()?),
            Placeholder::ReferenceImage => Value::from(self.reference_image.clone()?),
            Placeholder::Denoise => Value::from(self.denoise?),
            Placeholder::Model => Value::from(self.model.clone()?),
        })
    }
}

impl Template {
    /// Parses and checks `text`; the error is a sentence naming `origin` and the fix.
    pub fn parse(workflow: Workflow, origin: &str, text: &str) -> Result<Template, String> {
        let graph: Value = serde_json::from_str(text).map_err(|e| {
            format!(
                "{origin} is not valid JSON ({e}); export the workflow from ComfyUI with \"Export (API)\""
            )
        })?;
        let Value::Object(nodes) = &graph else {
            return Err(format!("{origin} is not a JSON object of nodes; export it with \"Export (API)\""));
        };
        if nodes.contains_key("nodes") && nodes.contains_key("links") {
            return Err(format!(
                "{origin} is a workflow as the ComfyUI editor saves it, not in the API format; open it in \
                 ComfyUI and save it with \"Export (API)\" (older versions: enable dev mode, then \"Save (API \
                 Format)\")"
            ));
        }
        if nodes.is_empty() {
            return Err(format!("{origin} has no nodes"));
        }
        let mut used = BTreeSet::new();
        for (id, node) in nodes {
            let class = node.get("class_type").and_then(Value::as_str);
            let (Some(class), Some(inputs)) = (class, node.get("inputs").and_then(Value::as_object)) else {
                return Err(format!(
                    "{origin}: node `{id}` is not of the API format's form {{\"class_type\": …, \"inputs\": {{…}}}}; \
                     export the workflow with \"Export (API)\""
                ));
            };
            find_placeholders(inputs, &mut |input, found| {
                let at = format!("{origin}: node {id} ({class}), input `{input}`");
                match found {
                    Found::Whole(name) => {
                        let p = Placeholder::ALL.into_iter().find(|p| p.name() == name).ok_or_else(|| {
                            format!("{at} uses `{{{{{name}}}}}`, which Easel does not fill; the placeholders are {}", list(&Placeholder::ALL))
                        })?;
                        if !workflow.allowed().contains(&p) {
                            return Err(format!(
                                "{at} uses `{p}`, which has no value in the {} workflow; it may use {}",
                                workflow.name(),
                                list(workflow.allowed())
                            ));
                        }
                        used.insert(p);
                        Ok(())
                    }
                    Found::Embedded(text) => Err(format!(
                        "{at} holds `{text}`: a placeholder must be the whole value, e.g. \"text\": \"{{{{prompt}}}}\""
                    )),
                }
            })?;
        }
        let missing: Vec<Placeholder> =
            workflow.required().iter().copied().filter(|p| !used.contains(p)).collect();
        if !missing.is_empty() {
            return Err(format!(
                "{origin} lacks {}; the {} workflow needs {} (e.g. \"seed\": \"{{{{seed}}}}\" in its KSampler)",
                list(&missing),
                workflow.name(),
                list(workflow.required())
            ));
        }
        Ok(Template { origin: origin.to_string(), graph, used })
    }

    pub fn uses(&self, p: Placeholder) -> bool {
        self.used.contains(&p)
    }

    /// The workflow with every placeholder replaced; `Err` names one without a value.
    pub fn fill(&self, values: &Values) -> Result<Value, Placeholder> {
        let mut graph = self.graph.clone();
        fill_value(&mut graph, values)?;
        Ok(graph)
    }
}

/// Reads the template configured for `workflow`: `None` when it is set to "", the built-in one
/// when it is not set.
pub(super) fn load(
    backend: &str,
    workflow: Workflow,
    configured: Option<&str>,
    built_in: Option<&str>,
) -> anyhow::Result<Option<Template>> {
    let op = workflow.name();
    let (origin, text) = match configured.map(str::trim) {
        Some("") => return Ok(None),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                anyhow!(
                    "backend `{backend}`: cannot read the {op} workflow `{path}` ({e}); fix `workflows.{op}` (a path \
                     from Easel's working directory, or an absolute one)"
                )
            })?;
            (format!("workflow `{path}`"), text)
        }
        None => match built_in {
            Some(text) => (format!("the built-in {op} workflow"), text.to_string()),
            None => return Ok(None),
        },
    };
    Template::parse(workflow, &origin, &text).map(Some).map_err(|m| anyhow!("backend `{backend}`: {m}"))
}

enum Found<'a> {
    Whole(&'a str),
    Embedded(&'a str),
}

/// Calls `check` for every placeholder-looking string under each input.
fn find_placeholders(
    inputs: &Map<String, Value>,
    check: &mut impl FnMut(&str, Found<'_>) -> Result<(), String>,
) -> Result<(), String> {
    fn walk(
        input: &str,
        v: &Value,
        check: &mut impl FnMut(&str, Found<'_>) -> Result<(), String>,
    ) -> Result<(), String> {
        match v {
            Value::String(s) => match whole(s) {
                Some(name) => check(input, Found::Whole(name)),
                None if s.contains("{{") && s.contains("}}") => check(input, Found::Embedded(s)),
                None => Ok(()),
            },
            Value::Array(items) => items.iter().try_for_each(|i| walk(input, i, check)),
            Value::Object(map) => map.values().try_for_each(|i| walk(input, i, check)),
            _ => Ok(()),
        }
    }
    inputs.iter().try_for_each(|(input, v)| walk(input, v, check))
}

/// `"{{ name }}"` → `name`.
fn whole(s: &str) -> Option<&str> {
    let inner = s.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
    (!inner.is_empty() && !inner.contains(['{', '}'])).then_some(inner)
}

fn fill_value(v: &mut Value, values: &Values) -> Result<(), Placeholder> {
    match v {
        Value::String(s) => {
            if let Some(p) = whole(s).and_then(|n| Placeholder::ALL.into_iter().find(|p| p.name() == n)) {
                *v = values.get(p).ok_or(p)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(|i| fill_value(i, values)),
        Value::Object(map) => map.values_mut().try_for_each(|i| fill_value(i, values)),
        _ => Ok(()),
    }
}

fn list(ps: &[Placeholder]) -> String {
    ps.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const IMAGINE: &str = include_str!("default_imagine.json");
    const VARIATION: &str = include_str!("default_variation.json");
    const EDIT: &str = include_str!("default_edit.json");
    const UPSCALE_SUBTLE: &str = include_str!("default_upscale_subtle.json");
    const UPSCALE_CREATIVE: &str = include_str!("default_upscale_creative.json");

    fn values() -> Values {
        Values {
            prompt: r#"a "quoted" {{seed}} prompt"#.into(),
            negative_prompt: "blurry".into(),
            seed: 42,
            width: 512,
            height: 288,
            batch_size: 4,
            image: Some("easel/in.png".into()),
            mask: None,
            reference_image: None,
            denoise: Some(0.35),
            model: Some("sd.safetensors".into()),
        }
    }

    #[test]
    fn the_built_in_templates_are_valid() {
        let t = Template::parse(Workflow::Imagine, "built-in", IMAGINE).unwrap();
        assert!(t.uses(Placeholder::NegativePrompt) && t.uses(Placeholder::Model));
        let t = Template::parse(Workflow::Variation, "built-in", VARIATION).unwrap();
        assert!(t.uses(Placeholder::Image) && t.uses(Placeholder::Denoise));
        let t = Template::parse(Workflow::Edit, "built-in", EDIT).unwrap();
        assert!(t.uses(Placeholder::Image) && t.uses(Placeholder::Denoise) && !t.uses(Placeholder::Mask));
        let t = Template::parse(Workflow::Upscale, "built-in", UPSCALE_SUBTLE).unwrap();
        assert!(t.uses(Placeholder::Image) && !t.uses(Placeholder::Model));
        let t = Template::parse(Workflow::UpscaleCreative, "built-in", UPSCALE_CREATIVE).unwrap();
        assert!(t.uses(Placeholder::Denoise) && t.uses(Placeholder::Seed));
    }

    #[test]
    fn the_mask_belongs_to_edits_only() {
        let mask = r#"{"1": {"class_type": "LoadImageMask", "inputs": {"image": "{{mask}}", "channel": "red"}},
            "2": {"class_type": "LoadImage", "inputs": {"image": "{{image}}"}},
            "3": {"class_type": "KSampler", "inputs": {"seed": "{{seed}}", "x": "{{batch_size}}"}}}"#;
        let t = Template::parse(Workflow::Edit, "e.json", mask).unwrap();
        assert!(t.uses(Placeholder::Mask));
        let mut v = values();
        assert_eq!(t.fill(&v).unwrap_err(), Placeholder::Mask, "an edit without its mask is not sent");
        v.mask = Some("easel/m.png".into());
        assert_eq!(t.fill(&v).unwrap()["1"]["inputs"]["image"], "easel/m.png");
        let e = Template::parse(Workflow::Variation, "v.json", mask).unwrap_err();
        assert!(e.contains("`{{mask}}`, which has no value in the variation workflow"), "{e}");
        let e = Template::parse(
            Workflow::Edit,
            "e.json",
            r#"{"1": {"class_type": "KSampler", "inputs": {"seed": "{{seed}}"}}}"#,
        )
        .unwrap_err();
        assert!(e.contains("lacks `{{image}}`, `{{batch_size}}`"), "{e}");
    }

    #[test]
    fn values_replace_whole_placeholders_with_typed_json() {
        let t = Template::parse(Workflow::Imagine, "built-in", IMAGINE).unwrap();
        let filled = t.fill(&values()).unwrap();
        let nodes = filled.as_object().unwrap();
        let by_class = |c: &str| nodes.values().find(|n| n["class_type"] == c).unwrap().clone();
        assert_eq!(
            by_class("EmptyLatentImage")["inputs"],
            json!({"width": 512, "height": 288, "batch_size": 4})
        );
        assert_eq!(by_class("KSampler")["inputs"]["seed"], json!(42));
        assert_eq!(by_class("CheckpointLoaderSimple")["inputs"]["ckpt_name"], "sd.safetensors");
        // The prompt is a string value and nothing else, whatever it holds.
        let texts: Vec<Value> = nodes
            .values()
            .filter(|n| n["class_type"] == "CLIPTextEncode")
            .map(|n| n["inputs"]["text"].clone())
            .collect();
        assert!(texts.contains(&json!(r#"a "quoted" {{seed}} prompt"#)) && texts.contains(&json!("blurry")));
        let mut no_model = values();
        no_model.model = None;
        assert_eq!(t.fill(&no_model).unwrap_err(), Placeholder::Model);
    }

    #[test]
    fn mistakes_are_named_with_their_fix() {
        let err = |w, text: &str| Template::parse(w, "t.json", text).unwrap_err();
        assert!(err(Workflow::Imagine, "{").contains("not valid JSON"));
        assert!(err(Workflow::Imagine, r#"{"nodes": [], "links": []}"#).contains("Export (API)"));
        assert!(err(Workflow::Imagine, r#"{"1": {"inputs": {}}}"#).contains("node `1`"));
        let steps = r#"{"1": {"class_type": "KSampler", "inputs": {"steps": "{{steps}}"}}}"#;
        assert!(err(Workflow::Imagine, steps).contains("`{{steps}}`, which Easel does not fill"));
        let image = r#"{"1": {"class_type": "LoadImage", "inputs": {"image": "{{image}}"}}}"#;
        assert!(err(Workflow::Imagine, image).contains("no value in the imagine workflow"));
        let embedded = r#"{"1": {"class_type": "CLIPTextEncode", "inputs": {"text": "art of {{prompt}}"}}}"#;
        assert!(err(Workflow::Imagine, embedded).contains("must be the whole value"));
        let lacking = r#"{"1": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{prompt}}"}}}"#;
        let e = err(Workflow::Imagine, lacking);
        assert!(e.contains("lacks `{{seed}}`, `{{width}}`, `{{height}}`, `{{batch_size}}`"), "{e}");
        assert!(Template::parse(Workflow::Upscale, "u", image).is_ok());
    }
}
