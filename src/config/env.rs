//! The environment layer of the configuration: `EASEL__SECTION__KEY` → `section.key`,
//! `EASEL__BACKENDS__<NAME>__KEY` (or the older `EASEL__BACKENDS__<n>__KEY`) → a key of one
//! `[[backends]]` entry, `DISCORD_TOKEN`, and every secret also from a file named by the same
//! variable with `_FILE` appended (Docker secrets, systemd credentials).
//!
//! Figment's own env provider reads the process environment directly and cannot address array
//! items, so the pairs are applied here, from a list the caller passes (which keeps tests
//! hermetic).

use figment::Figment;
use figment::providers::Serialized;
use figment::value::{Dict, Tag, Value};

use super::ConfigError;

/// The last part of a variable naming a secret: only these may come from a `…_FILE`.
const SECRET_KEYS: &[&str] = &["TOKEN", "API_KEY"];
const BACKENDS: &str = "EASEL__BACKENDS__";

/// The figment with the environment on top, where each key came from (for error messages),
/// and what `easel check-config` should warn about.
pub(super) struct Layer {
    pub fig: Figment,
    /// (dotted key, variable) for every plain `EASEL__…` and `DISCORD_TOKEN` variable.
    pub env_keys: Vec<(String, String)>,
    pub warnings: Vec<String>,
}

pub(super) fn apply(
    mut fig: Figment,
    env: impl IntoIterator<Item = (String, String)>,
    source: &str,
) -> Result<Layer, ConfigError> {
    let env = read_secret_files(env.into_iter().collect())?;
    let mut env_keys: Vec<(String, String)> = Vec::new();
    for (var, value) in &env {
        let Some(rest) = var.strip_prefix("EASEL__") else { continue };
        if var.to_ascii_uppercase().starts_with(BACKENDS) {
            continue;
        }
        let key = rest.split("__").map(str::to_ascii_lowercase).collect::<Vec<_>>().join(".");
        fig = fig.merge(Serialized::default(&key, parse_env_value(&key, value)));
        env_keys.push((key, var.clone()));
    }
    let mut warnings = Vec::new();
    fig = apply_backend_env(fig, &env, source, &mut warnings)?;
    if let Some((_, token)) = env.iter().find(|(k, _)| k == "DISCORD_TOKEN") {
        fig = fig.merge(Serialized::default("discord.token", token));
        env_keys.push(("discord.token".into(), "DISCORD_TOKEN".into()));
    }
    Ok(Layer { fig, env_keys, warnings })
}

/// Replaces each `<SECRET>_FILE=path` with `<SECRET>=<the file's contents>`, without the line
/// break editors and `echo` leave at the end.
fn read_secret_files(env: Vec<(String, String)>) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::with_capacity(env.len());
    for (var, value) in &env {
        let Some(base) = var.strip_suffix("_FILE").filter(|base| names_secret(base)) else {
            out.push((var.clone(), value.clone()));
            continue;
        };
        let err = |message: String| ConfigError::new(format!("environment variable {var}"), base, message);
        if env.iter().any(|(other, _)| other == base) {
            return Err(err(format!("is set, and so is {base}: keep only one of them")));
        }
        let text = std::fs::read_to_string(value)
            .map_err(|e| err(format!("names the file `{value}`, which cannot be read: {e}")))?;
        let secret = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
        if secret.trim().is_empty() {
            return Err(err(format!("names the file `{value}`, which is empty: put the secret in it")));
        }
        out.push((base.to_string(), secret.to_string()));
    }
    Ok(out)
}

fn names_secret(var: &str) -> bool {
    let upper = var.to_ascii_uppercase();
    upper == "DISCORD_TOKEN"
        || upper.starts_with("EASEL__")
            && SECRET_KEYS.iter().any(|key| upper.rsplit("__").next() == Some(*key))
}

/// How a backend's name appears in a variable: uppercased, `-` as `_` (`my-gpu` → `MY_GPU`).
pub fn env_name(backend: &str) -> String {
    backend.to_ascii_uppercase().replace('-', "_")
}

/// Applies `EASEL__BACKENDS__<NAME or n>__<KEY>=value` to that entry of the backends list.
fn apply_backend_env(
    fig: Figment,
    env: &[(String, String)],
    source: &str,
    warnings: &mut Vec<String>,
) -> Result<Figment, ConfigError> {
    let vars: Vec<&(String, String)> =
        env.iter().filter(|(var, _)| var.to_ascii_uppercase().starts_with(BACKENDS)).collect();
    if vars.is_empty() {
        return Ok(fig);
    }
    let mut backends = match fig.find_value("backends") {
        Ok(Value::Array(_, items)) => items,
        _ => Vec::new(),
    };
    let names: Vec<String> = backends
        .iter()
        .map(|b| match b {
            Value::Dict(_, entry) => entry.get("name").and_then(|n| n.as_str()).unwrap_or("").to_string(),
            _ => String::new(),
        })
        .collect();
    for (var, value) in vars {
        let upper = var.to_ascii_uppercase();
        let (index, key) = find_entry(var, &upper[BACKENDS.len()..], &names, source, warnings)?;
        let Some(Value::Dict(_, entry)) = backends.get_mut(index) else {
            unreachable!("find_entry returns an index of `names`, one per entry")
        };
        let key = key.to_ascii_lowercase();
        let parsed = parse_env_value(&key, value);
        insert_nested(entry, &key, parsed);
    }
    Ok(fig.merge(Serialized::default("backends", backends)))
}

/// Which entry `rest` (what follows `EASEL__BACKENDS__`) addresses, and the key inside it.
fn find_entry<'a>(
    var: &str,
    rest: &'a str,
    names: &[String],
    source: &str,
    warnings: &mut Vec<String>,
) -> Result<(usize, &'a str), ConfigError> {
    let err = |key: String, message: String| ConfigError::new(var, key, message);
    let shape = || {
        err(
            "backends".into(),
            "is not of the form EASEL__BACKENDS__<NAME>__<KEY>, e.g. EASEL__BACKENDS__MY_GPU__API_KEY \
             for the backend named `my-gpu`"
                .into(),
        )
    };
    let listed = || {
        if names.is_empty() {
            format!("{source} configures no backends")
        } else {
            let each: Vec<String> =
                names.iter().map(|n| format!("`{n}` ({BACKENDS}{}__…)", env_name(n))).collect();
            format!("the backends are {}", each.join(", "))
        }
    };
    if let Some((n, key)) = rest.split_once("__").and_then(|(n, key)| Some((n.parse::<usize>().ok()?, key))) {
        let Some(name) = names.get(n) else {
            return Err(err(
                format!("backends[{n}]"),
                format!(
                    "names backend {n}, but {source} configures {} backend(s) (numbered from 0)",
                    names.len()
                ),
            ));
        };
        warnings.push(format!(
            "{var} sets a backend by its position, which changes when backends are added or \
             reordered: name it instead, as {BACKENDS}{}__{key}",
            env_name(name)
        ));
        return Ok((n, key));
    }
    // The longest name that fits wins, so `GPU` does not take `GPU_2__API_KEY`.
    let mut fits: Vec<(usize, &str)> = names
        .iter()
        .enumerate()
        .filter_map(|(i, n)| Some((i, rest.strip_prefix(&env_name(n))?.strip_prefix("__")?)))
        .filter(|(_, key)| !key.is_empty())
        .collect();
    fits.sort_by_key(|(_, key)| key.len());
    match fits.as_slice() {
        [] if !rest.contains("__") => Err(shape()),
        [] => {
            let wanted = rest.split("__").next().unwrap_or(rest);
            Err(err("backends".into(), format!("names no backend `{wanted}`: {}", listed())))
        }
        [(i, key), (j, other), ..] if key.len() == other.len() => Err(err(
            "backends".into(),
            format!(
                "could name backend `{}` or `{}`, which read the same in a variable: use \
                 {BACKENDS}{i}__{key} (by position) or rename one",
                names[*i], names[*j]
            ),
        )),
        [(i, key), ..] => Ok((*i, key)),
    }
}

/// Sets `a__b` (from `EASEL__BACKENDS__<NAME>__A__B`) as key `b` of table `a`, so tables inside
/// a backend entry (comfyui's `workflows`) can be set from the environment too.
fn insert_nested(entry: &mut Dict, key: &str, value: Value) {
    match key.split_once("__") {
        Some((table, rest)) => {
            let slot =
                entry.entry(table.to_string()).or_insert_with(|| Value::Dict(Tag::Default, Dict::new()));
            if !matches!(slot, Value::Dict(..)) {
                *slot = Value::Dict(Tag::Default, Dict::new());
            }
            if let Value::Dict(_, table) = slot {
                insert_nested(table, rest, value);
            }
        }
        None => {
            entry.insert(key.to_string(), value);
        }
    }
}

/// An environment value as TOML would read it (numbers, booleans, arrays), except for keys
/// that are always strings: a token or key made only of digits must stay a string.
fn parse_env_value(key: &str, value: &str) -> Value {
    let always_text = ["token", "api_key", "name", "model", "url", "base_url", "api_base", "dir", "level"];
    // A table inside a backend entry (`EASEL__BACKENDS__0__WORKFLOWS__IMAGINE`) holds names
    // and file paths, whatever they look like.
    if always_text.iter().any(|k| key == *k || key.ends_with(&format!(".{k}"))) || key.contains("__") {
        return Value::from(value.to_string());
    }
    value.parse().unwrap_or_else(|_| Value::from(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_longest_backend_name_that_fits_wins() {
        let list = names(&["gpu", "gpu-2"]);
        let mut w = Vec::new();
        let find = |rest: &str, w: &mut Vec<String>| {
            find_entry("V", rest, &list, "f", w).map(|(i, k)| (i, k.to_string()))
        };
        assert_eq!(find("GPU__API_KEY", &mut w).unwrap(), (0, "API_KEY".into()));
        assert_eq!(find("GPU_2__API_KEY", &mut w).unwrap(), (1, "API_KEY".into()));
        assert_eq!(find("GPU_2__WORKFLOWS__IMAGINE", &mut w).unwrap(), (1, "WORKFLOWS__IMAGINE".into()));
        assert!(w.is_empty(), "the name form is not warned about");
        assert_eq!(find("1__API_KEY", &mut w).unwrap(), (1, "API_KEY".into()));
        assert!(w[0].contains("EASEL__BACKENDS__GPU_2__API_KEY"), "{w:?}");
        let err = find("CPU__API_KEY", &mut w).unwrap_err();
        assert!(err.message.contains("`gpu` (EASEL__BACKENDS__GPU__…), `gpu-2`"), "{err}");
    }

    #[test]
    fn names_that_read_the_same_are_refused() {
        let list = names(&["my-gpu", "my_gpu"]);
        let err = find_entry("V", "MY_GPU__API_KEY", &list, "f", &mut Vec::new()).unwrap_err();
        assert!(err.message.contains("`my-gpu` or `my_gpu`"), "{err}");
    }

    #[test]
    fn only_secrets_come_from_files() {
        assert!(names_secret("DISCORD_TOKEN") && names_secret("EASEL__DISCORD__TOKEN"));
        assert!(names_secret("EASEL__BACKENDS__GPU__API_KEY"));
        assert!(!names_secret("EASEL__LOG__LEVEL") && !names_secret("EASEL__BACKENDS__GPU__MODEL"));
    }
}
