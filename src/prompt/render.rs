//! [`PromptSpec::canonical`]: one normalised spelling of a prompt, used to show the member what
//! Easel understood, to store it, and to re-run it. Parsing the output again gives an equal
//! spec (a property test holds this), so every choice here must be one the parser reads back:
//! long flag names, parameters in [`Param::ALL`](super::Param::ALL) order, `f32`s printed with
//! Rust's shortest round-tripping `Display`.

use std::fmt::Write;

use super::spec::PromptSpec;

impl PromptSpec {
    /// URLs, text, then parameters in a fixed order:
    /// `--ar 3:2 --seed 7 --no a, b --chaos 5 --stylize 100 --quality 1 --weird 10 --tile
    /// --style raw --stop 50 --v 6.1 --niji 6 --iw 1.5`.
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
        if let Some(stop) = p.stop {
            let _ = write!(params, " --stop {stop}");
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
