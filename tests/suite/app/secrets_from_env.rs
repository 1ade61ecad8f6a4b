//! Secrets and backends from the environment: every secret also from a `…_FILE` (Docker
//! secrets, systemd credentials), backends addressed by name (`EASEL__BACKENDS__<NAME>__KEY`),
//! the position form still working but warned about, and the warning for a hosted backend
//! with no key.

use std::path::PathBuf;

use easel::backends::warnings;
use easel::config::{Config, ConfigError, load_from};

const TWO_BACKENDS: &str = "[[backends]]\nname = \"hosted-1\"\nkind = \"openai\"\n\
    base_url = \"https://example.com/v1\"\napi_key = \"from-the-file\"\n\
    [[backends]]\nname = \"gpu\"\nkind = \"a1111\"\nbase_url = \"http://127.0.0.1:7860\"\n";

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn config_file(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("easel.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn secret_file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn load(dir: &tempfile::TempDir, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let path = config_file(dir, TWO_BACKENDS);
    load_from(Some(&path), env(pairs)).and_then(|c| easel::app::check_config(&c).map(|_| c))
}

#[test]
fn secrets_come_from_files_without_their_final_line_break() {
    let dir = tempfile::tempdir().unwrap();
    let token = secret_file(&dir, "token", "abc.def\n");
    let key = secret_file(&dir, "key", "sk-from-file\r\n");
    let config =
        load(&dir, &[("DISCORD_TOKEN_FILE", &token), ("EASEL__BACKENDS__HOSTED_1__API_KEY_FILE", &key)])
            .unwrap();
    assert_eq!(config.discord.token.expose(), "abc.def");
    assert_eq!(config.backends[0].api_key.expose(), "sk-from-file");
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);

    // The `EASEL__` spelling of the token, and the position form of a key (a1111's `--api-auth`).
    let auth = secret_file(&dir, "auth", "easel:hunter2\n");
    let config =
        load(&dir, &[("EASEL__DISCORD__TOKEN_FILE", &token), ("EASEL__BACKENDS__1__API_KEY_FILE", &auth)])
            .unwrap();
    assert_eq!(config.discord.token.expose(), "abc.def");
    assert_eq!(config.backends[1].api_key.expose(), "easel:hunter2");
}

#[test]
fn a_secret_file_that_cannot_be_used_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope").display().to_string();
    let err = load(&dir, &[("DISCORD_TOKEN_FILE", &missing)]).unwrap_err();
    assert_eq!(err.origin, "environment variable DISCORD_TOKEN_FILE");
    assert!(err.message.contains(&missing) && err.message.contains("cannot be read"), "{err}");

    let empty = secret_file(&dir, "empty", "\n");
    let err = load(&dir, &[("EASEL__BACKENDS__GPU__API_KEY_FILE", &empty)]).unwrap_err();
    assert!(err.message.contains("is empty: put the secret in it"), "{err}");

    let token = secret_file(&dir, "token", "abc");
    let err = load(&dir, &[("DISCORD_TOKEN_FILE", &token), ("DISCORD_TOKEN", "xyz")]).unwrap_err();
    assert!(err.message.contains("so is DISCORD_TOKEN: keep only one"), "{err}");

    // Only secrets come from files: any other `_FILE` is an unknown key, as before.
    let err = load(&dir, &[("EASEL__LOG__LEVEL_FILE", &token)]).unwrap_err();
    assert_eq!(err.key, "log.level_file");
}

#[test]
fn backends_are_addressed_by_name_and_the_position_form_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let config = load(
        &dir,
        &[
            ("EASEL__BACKENDS__HOSTED_1__API_KEY", "sk-by-name"),
            ("EASEL__BACKENDS__GPU__CONCURRENCY", "3"),
            ("EASEL__BACKENDS__GPU__STEPS", "25"),
        ],
    )
    .unwrap();
    assert_eq!(config.backends[0].api_key.expose(), "sk-by-name");
    assert_eq!(config.backends[1].concurrency, Some(3));
    assert_eq!(config.backends[1].get::<u32>("steps"), Some(25));
    assert!(warnings(&config).is_empty(), "{:?}", warnings(&config));

    let config = load(&dir, &[("EASEL__BACKENDS__1__CONCURRENCY", "2")]).unwrap();
    assert_eq!(config.backends[1].concurrency, Some(2), "the position form keeps working");
    let said = warnings(&config);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("by its position") && said[0].contains("EASEL__BACKENDS__GPU__CONCURRENCY"));
}

#[test]
fn a_name_keyed_variable_for_no_backend_names_the_ones_that_exist() {
    let dir = tempfile::tempdir().unwrap();
    let err = load(&dir, &[("EASEL__BACKENDS__GPU2__API_KEY", "x")]).unwrap_err();
    assert_eq!(err.origin, "EASEL__BACKENDS__GPU2__API_KEY");
    assert!(err.message.contains("names no backend `GPU2`"), "{err}");
    assert!(
        err.message.contains("`hosted-1` (EASEL__BACKENDS__HOSTED_1__…), `gpu` (EASEL__BACKENDS__GPU__…)"),
        "{err}"
    );
    let err = load_from(None, env(&[("EASEL__BACKENDS__GPU__API_KEY", "x")])).unwrap_err();
    assert!(err.message.contains("configures no backends"), "{err}");
}

#[test]
fn a_hosted_backend_without_a_key_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let path = config_file(
        &dir,
        "[[backends]]\nname = \"hosted\"\nkind = \"openai\"\nbase_url = \"https://example.com/v1\"\n\
         [[backends]]\nname = \"gpu\"\nkind = \"a1111\"\nbase_url = \"http://127.0.0.1:7860\"\n",
    );
    let config = load_from(Some(&path), env(&[])).unwrap();
    let said = warnings(&config);
    assert_eq!(said.len(), 1, "a1111 runs without a key, so only openai is warned about: {said:?}");
    assert!(said[0].contains("backend `hosted` (openai) has no api_key"), "{}", said[0]);
    assert!(said[0].contains("EASEL__BACKENDS__HOSTED__API_KEY"), "{}", said[0]);
    assert!(!said[0].contains("  "), "one sentence, without runs of spaces: {}", said[0]);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_easel"))
        .args(["check-config", "--config"])
        .arg(&path)
        .env_remove("EASEL_CONFIG")
        .env_remove("DISCORD_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("warning: backend `hosted` (openai) has no api_key"), "{stdout}");
}

#[test]
fn a_comfyui_backend_without_a_model_is_told_what_happens() {
    let dir = tempfile::tempdir().unwrap();
    let path = config_file(
        &dir,
        "[[backends]]\nname = \"gpu\"\nkind = \"comfyui\"\nbase_url = \"http://127.0.0.1:8188\"\n",
    );
    let config = load_from(Some(&path), env(&[])).unwrap();
    let said = warnings(&config);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains("backend `gpu` (comfyui) has no model")
            && said[0].contains("checkpoint the server has"),
        "{}",
        said[0]
    );
}
