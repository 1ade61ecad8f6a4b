//! [`PromptSpec::canonical`]: one normalised spelling of a prompt, used to show the member what
//! Easel understood, to store it, and to re-run it. Parsing the output again gives an equal
//! spec (a property test holds this), so every choice here must be one the parser reads back:
//! long flag names (except `--v` and `--p`, which members write short), parameters in
//! [`Param::ALL`](super::Param::ALL) order, `f32`s printed with Rust's shortest round-tripping
//! `Display`. A prompt a member already wrote this way renders byte for byte as written, so a
//! Midjourney-backed service receives exactly the member's parameters.

use std::fmt::Write;

use super::spec::{PromptSpec, StyleSource};

impl PromptSpec {
    /// URLs, text, then parameters in a fixed order:
    /// `--ar 3:2 --seed 7 --no a, b --chaos 5 --stylize 100 --quality 1 --weird 10 --tile
    /// --style raw --stop 50 --exp 25 --draft --v 7 --iw 1.5 --sref 123 URL::2 random --sw 200
    /// --sv 6 --cref URL --cw 50 --oref URL --ow 400 --p code --fast` (`--style <code>` in
    /// place of `--style raw`, `--niji 7` in place of `--v`). `--repeat` is never written:
    /// parsing already made the copies, and a re-run prompt must not multiply again.
    pub fn canonical(&self) -> String {
        let mut out = String::new();
        for url in &self.image_urls {
            word(&mut out, url);
        }
        word(&mut out, &self.text);

        let p = &self.params;
        // Writing into a String cannot fail; the results are ignored for that reason only.
        let mut params = String::new();
        if let Some(ar) = p.aspect {
            let _ = write!(params, " --ar {}:{}", ar.w, ar.h);
        }
        if let Some(seed) = p.seed {
            let _ = write!(params, " --seed {seed}");
        }
        if !p.no.is_empty() {
            let _ = write!(params, " --no {}", p.no.join(", "));
        }
        if let Some(chaos) = p.chaos {
            let _ = write!(params, " --chaos {chaos}");
        }
        if let Some(stylize) = p.stylize {
            let _ = write!(params, " --stylize {stylize}");
        }
        if let Some(quality) = p.quality {
            let _ = write!(params, " --quality {quality}");
        }
        if let Some(weird) = p.weird {
            let _ = write!(params, " --weird {weird}");
        }
        if p.tile {
            params.push_str(" --tile");
        }
        if p.style_raw {
            params.push_str(" --style raw");
        }
        if let Some(code) = &p.style_code {
            let _ = write!(params, " --style {code}");
        }
        if let Some(stop) = p.stop {
            let _ = write!(params, " --stop {stop}");
        }
        if let Some(exp) = p.exp {
            let _ = write!(params, " --exp {exp}");
        }
        if p.draft {
            params.push_str(" --draft");
        }
        if let Some(version) = &p.version {
            let _ = write!(params, " --v {version}");
        }
        match p.niji.as_deref() {
            Some("") => params.push_str(" --niji"),
            Some(niji) => {
                let _ = write!(params, " --niji {niji}");
            }
            None => {}
        }
        if let Some(iw) = p.iw {
            let _ = write!(params, " --iw {iw}");
        }
        if !p.style_refs.is_empty() {
            params.push_str(" --sref");
            for r in &p.style_refs {
                match &r.source {
                    StyleSource::Url(url) => word(&mut params, url),
                    StyleSource::Code(code) => word(&mut params, code),
                    StyleSource::Random => word(&mut params, "random"),
                }
                if let Some(weight) = r.weight {
                    let _ = write!(params, "::{weight}");
                }
            }
        }
        if let Some(sw) = p.style_weight {
            let _ = write!(params, " --sw {sw}");
        }
        if let Some(sv) = p.style_version {
            let _ = write!(params, " --sv {sv}");
        }
        if !p.character_refs.is_empty() {
            let _ = write!(params, " --cref {}", p.character_refs.join(" "));
        }
        if let Some(cw) = p.character_weight {
            let _ = write!(params, " --cw {cw}");
        }
        if let Some(url) = &p.omni_ref {
            let _ = write!(params, " --oref {url}");
        }
        if let Some(ow) = p.omni_weight {
            let _ = write!(params, " --ow {ow}");
        }
        if let Some(codes) = &p.personalize {
            params.push_str(" --p");
            codes.iter().for_each(|code| word(&mut params, code));
        }
        if let Some(speed) = p.speed {
            word(&mut params, speed.flag());
        }
        word(&mut out, params.trim_start());
        out
    }
}

/// Appends `s` as a space-separated word; empty parts add nothing, so no double spaces.
fn word(out: &mut String, s: &str) {
    if !s.is_empty() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(s);
    }
}
