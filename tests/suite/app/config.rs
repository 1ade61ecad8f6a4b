//! The config contract: layering, and an error that names the source, the key and the fix
//! for every kind of mistake an admin can make. A config is checked as `easel check-config`
//! checks it: loaded, then each backend entry against its kind.

use std::path::PathBuf;

use easel::backends::{concurrency, summary};
use easel::config::{BackendConfig, Config, ConfigError, load_from};

fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("easel.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn error_for(text: &str) -> ConfigError {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, text);
    let err = checked(Some(&path), env(&[])).expect_err("this config must be refused");
    assert_eq!(err.origin, path.display().to_string(), "the error names the file: {err}");
    err
}

/// Loads as `easel check-config` does.
fn checked(path: Option<&std::path::Path>, env: Vec<(String, String)>) -> Result<Config, ConfigError> {
    load_from(path, env).and_then(|c| easel::app::check_config(&c).map(|_| c))
}

#[test]
fn the_example_config_parses_and_documents_every_section() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let config = checked(Some(&path), env(&[])).unwrap();
    let kinds: Vec<&str> = config.backends.iter().map(|b| b.kind.as_str()).collect();
    assert_eq!(kinds, ["demo"], "the example enables only the offline demo; the others are commented out");
    assert_eq!(config.limits.per_user_running, 3);
    assert_eq!(config.limits.per_user_queued, 10);
    assert_eq!(config.database.url, "sqlite://data/easel.db");
    assert_eq!(config.imaging.grid_quality, 90);
}

#[test]
fn the_minimal_config_parses_with_its_key_from_the_environment() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config.minimal.toml");
    let config = checked(
        Some(&path),
        env(&[("EASEL__BACKENDS__OPENAI__API_KEY", "sk-test"), ("DISCORD_TOKEN", "token-from-env")]),
    )
    .unwrap();
    let kinds: Vec<&str> = config.backends.iter().map(|b| b.kind.as_str()).collect();
    assert_eq!(kinds, ["openai"], "one real backend and nothing else");
    assert_eq!(config.backends[0].api_key.expose(), "sk-test");
    assert!(config.warnings.is_empty(), "nothing to warn about: {:?}", config.warnings);
    assert!(config.check_runnable().is_ok());
}

#[test]
fn no_file_means_defaults_with_the_demo_backend() {
    let config = checked(None, env(&[])).unwrap();
    assert!(config.backends.is_empty());
    let effective = config.effective_backends();
    assert_eq!(effective.len(), 1);
    assert_eq!(effective[0].kind, "demo");
    assert!(summary(&config).contains("built-in offline demo backend"));
}

#[test]
fn the_environment_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "[limits]\nper_user_running = 2\n[[backends]]\nname = \"main\"\nkind = \"openai\"\nbase_url = \"https://example.com/v1\"\n",
    );
    let config = checked(
        Some(&path),
        env(&[
            ("EASEL__LIMITS__PER_USER_RUNNING", "5"),
            ("EASEL__BACKENDS__0__API_KEY", "12345"),
            ("EASEL__BACKENDS__0__CONCURRENCY", "7"),
            ("DISCORD_TOKEN", "token-from-env"),
            ("UNRELATED", "x"),
        ]),
    )
    .unwrap();
    assert_eq!(config.limits.per_user_running, 5);
    assert_eq!(config.backends[0].api_key.expose(), "12345", "a numeric-looking key stays a string");
    assert_eq!(concurrency(&config.backends[0]), 7);
    assert_eq!(config.discord.token.expose(), "token-from-env");
    assert!(config.check_runnable().is_ok());
}

#[test]
fn an_env_override_for_a_backend_that_does_not_exist_is_named() {
    let err = load_from(None, env(&[("EASEL__BACKENDS__3__API_KEY", "x")])).unwrap_err();
    assert_eq!(err.origin, "EASEL__BACKENDS__3__API_KEY");
    assert!(err.message.contains("configures 0 backend"), "{err}");
}

#[test]
fn a_bad_env_value_names_the_variable() {
    let err = load_from(None, env(&[("EASEL__LIMITS__PER_USER_QUEUED", "lots")])).unwrap_err();
    assert_eq!(err.origin, "environment variable EASEL__LIMITS__PER_USER_QUEUED");
    assert_eq!(err.key, "limits.per_user_queued");
}

#[test]
fn an_unknown_key_is_named_with_the_keys_that_exist() {
    let err = error_for("[limits]\nper_user_runing = 4\n");
    assert_eq!(err.key, "limits.per_user_runing");
    assert!(err.message.contains("per_user_running"), "the message lists the real keys: {err}");
}

#[test]
fn an_unknown_backend_kind_lists_the_kinds() {
    let err = error_for("[[backends]]\nname = \"x\"\nkind = \"dalle\"\n");
    assert_eq!(err.key, "backends[0].kind");
    assert!(err.message.contains("`dalle`") && err.message.contains("openai"), "{err}");
}

#[test]
fn a_bad_url_is_refused() {
    let err = error_for("[[backends]]\nname = \"x\"\nkind = \"openai\"\nbase_url = \"api.openai.com/v1\"\n");
    assert_eq!(err.key, "backends[0].base_url");
    assert!(err.message.contains("not a valid URL"), "{err}");
    let err = error_for("[[backends]]\nname = \"x\"\nkind = \"openai\"\nbase_url = \"ftp://host/v1\"\n");
    assert!(err.message.contains("http:// or https://"), "{err}");
    let err = error_for("[discord]\napi_base = \"localhost:3000\"\n");
    assert_eq!(err.key, "discord.api_base");
}

#[test]
fn duplicate_backend_names_are_refused() {
    let err = error_for(
        "[[backends]]\nname = \"a\"\nkind = \"demo\"\n[[backends]]\nname = \"a\"\nkind = \"demo\"\n",
    );
    assert_eq!(err.key, "backends[1].name");
    assert!(err.message.contains("backends[0]"), "{err}");
}

#[test]
fn a_setting_of_another_kind_is_refused() {
    let err = error_for("[[backends]]\nname = \"d\"\nkind = \"demo\"\nmax_n = 1\n");
    assert_eq!(err.key, "backends[0].max_n");
    assert!(err.message.contains("kind `openai`"), "{err}");
}

#[test]
fn a_wrong_type_says_what_was_expected() {
    let err = error_for("[limits]\nper_user_running = \"three\"\n");
    assert_eq!(err.key, "limits.per_user_running");
    assert!(err.message.contains("string"), "{err}");
}

#[test]
fn out_of_range_values_are_refused() {
    assert_eq!(error_for("[limits]\nmax_prompts = 0\n").key, "limits.max_prompts");
    assert_eq!(error_for("[imaging]\ngrid_quality = 0\n").key, "imaging.grid_quality");
    assert_eq!(error_for("[limits]\nmax_image_bytes = 0\n").key, "limits.max_image_bytes");
    assert_eq!(error_for("[limits]\nmax_image_bytes = 10485761\n").key, "limits.max_image_bytes");
    let config = load_from(None, env(&[("EASEL__LIMITS__MAX_IMAGE_BYTES", "2048")])).unwrap();
    assert_eq!(config.limits.max_image_bytes, 2048);
    assert_eq!(load_from(None, env(&[])).unwrap().limits.max_image_bytes, 10 << 20);
    // PostgreSQL is a database Easel runs on (the multi-process mode); MySQL is not.
    let err = error_for("[database]\nurl = \"mysql://u:secret@h/x\"\n");
    assert_eq!(err.key, "database.url");
    assert!(
        err.message.contains("postgres://user:password@host/dbname") && !err.message.contains("secret"),
        "{err}"
    );
    let config = load_from(None, env(&[("EASEL__DATABASE__URL", "postgres://u:p@h/easel")])).unwrap();
    assert_eq!(config.database.url, "postgres://u:p@h/easel");
    let err = error_for("[showcase]\nchannel_id = \"#art\"\n");
    assert_eq!(err.key, "showcase.channel_id");
    assert!(err.message.contains("Copy Channel ID"), "{err}");
    let config = load_from(None, env(&[("EASEL__SHOWCASE__CHANNEL_ID", "123456789012345678")])).unwrap();
    assert_eq!(config.showcase.channel_id.as_deref(), Some("123456789012345678"));
    assert_eq!(error_for("[[backends]]\nname = \"has space\"\nkind = \"demo\"\n").key, "backends[0].name");
}

#[test]
fn a_missing_token_is_an_error_for_running_only() {
    let config = load_from(None, env(&[])).unwrap();
    let err = config.check_runnable().unwrap_err();
    assert_eq!(err.key, "discord.token");
    assert!(err.message.contains("DISCORD_TOKEN"), "{err}");
}

#[test]
fn secrets_never_appear_in_the_summary_or_debug_output() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "[discord]\ntoken = \"discord-secret-token\"\n[[backends]]\nname = \"m\"\nkind = \"openai\"\nbase_url = \"https://x.example/v1\"\napi_key = \"sk-very-secret\"\n",
    );
    let config = checked(Some(&path), env(&[])).unwrap();
    let shown = format!("{}\n{:?}", summary(&config), config);
    assert!(!shown.contains("discord-secret-token") && !shown.contains("sk-very-secret"), "{shown}");
    assert!(shown.contains("set (redacted)"));
}

#[test]
fn credentials_inside_a_base_url_are_redacted_in_the_summary_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "[[backends]]\nname = \"gpu\"\nkind = \"a1111\"\n\
         base_url = \"http://admin:hunter2@gpu.lan:7860/?key=abc123&size=2\"\n",
    );
    let shown = summary(&load_from(Some(&path), env(&[])).unwrap());
    assert!(!shown.contains("hunter2") && !shown.contains("abc123"), "{shown}");
    assert!(shown.contains("http://***@gpu.lan:7860/?key=***&size=2"), "{shown}");

    // A URL refused as malformed is still shown without its password.
    let err = error_for("[[backends]]\nname = \"m\"\nkind = \"openai\"\nbase_url = \"ftp://me:pw-9@x/v1\"\n");
    assert!(!err.to_string().contains("pw-9") && err.to_string().contains("ftp://***@x/v1"), "{err}");
}

// --- the a1111 kind ---

const A1111: &str = "[[backends]]\nname = \"gpu\"\nkind = \"a1111\"\nbase_url = \"http://127.0.0.1:7860\"\n";

#[test]
fn an_a1111_backend_reads_its_keys_and_defaults_to_one_job_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{A1111}api_key = \"me:secret-pass\"\nmodel = \"sd_xl_base_1.0\"\nsteps = 30\ncfg_scale = 7\n\
         sampler = \"DPM++ 2M\"\nupscaler = \"Lanczos\"\nupscale_factor = 3\nvariation_mode = \"img2img\"\n\
         interrogate_model = \"deepdanbooru\"\nimage_size = 768\n\
         [[backends]]\nname = \"toy\"\nkind = \"demo\"\nimage_size = 256\n"
    );
    let path = write(&dir, &text);
    let config = checked(Some(&path), env(&[("EASEL__BACKENDS__0__STEPS", "25")])).unwrap();
    let b = &config.backends[0];
    assert_eq!(b.kind, "a1111");
    assert_eq!(
        (b.get::<u32>("steps"), b.get::<f64>("cfg_scale"), b.get::<f64>("upscale_factor")),
        (Some(25), Some(7.0), Some(3.0))
    );
    assert_eq!(b.get::<String>("variation_mode").as_deref(), Some("img2img"));
    assert_eq!(
        (b.get::<u32>("image_size"), config.backends[1].get::<u32>("image_size")),
        (Some(768), Some(256))
    );
    assert_eq!((b.concurrency, concurrency(b)), (None, 1));
    assert_eq!(concurrency(&config.backends[1]), 2, "other kinds keep their default");
    let summary = summary(&config);
    assert!(summary.contains("`gpu` (a1111), 1 at once") && !summary.contains("secret-pass"), "{summary}");

    let path = write(&dir, &format!("{A1111}concurrency = 3\n"));
    assert_eq!(concurrency(&checked(Some(&path), env(&[])).unwrap().backends[0]), 3);
}

#[test]
fn a1111_values_are_checked() {
    let cases = [
        ("image_size = 1020\n", "image_size"),
        ("image_size = 4096\n", "image_size"),
        ("steps = 0\n", "steps"),
        ("cfg_scale = 0\n", "cfg_scale"),
        ("upscale_factor = 1\n", "upscale_factor"),
        ("upscale_factor = 8\n", "upscale_factor"),
        ("sampler = \" \"\n", "sampler"),
        ("interrogate_model = \"\"\n", "interrogate_model"),
        ("concurrency = 0\n", "concurrency"),
    ];
    for (line, key) in cases {
        let err = error_for(&format!("{A1111}{line}"));
        assert_eq!(err.key, format!("backends[0].{key}"), "{line}: {err}");
    }
    let err = error_for(&format!("{A1111}variation_mode = \"remix\"\n"));
    assert!(err.message.contains("subseed") && err.message.contains("img2img"), "{err}");
    let err = error_for("[[backends]]\nname = \"gpu\"\nkind = \"a1111\"\n");
    assert_eq!(err.key, "backends[0].base_url");
}

#[test]
fn a_key_without_a_colon_is_refused_without_being_shown() {
    let err = error_for(&format!("{A1111}api_key = \"hunter2hunter2\"\n"));
    assert_eq!(err.key, "backends[0].api_key");
    assert!(err.message.contains("user:password") && !err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn a1111_keys_on_other_kinds_and_theirs_on_a1111_are_refused() {
    let err = error_for("[[backends]]\nname = \"d\"\nkind = \"demo\"\nupscaler = \"Lanczos\"\n");
    assert_eq!(err.key, "backends[0].upscaler");
    assert!(err.message.contains("kind `a1111`"), "{err}");
    let err = error_for(&format!("{A1111}max_n = 2\n"));
    assert!(err.message.contains("kind `openai`"), "{err}");
    let err = error_for(
        "[[backends]]\nname = \"o\"\nkind = \"openai\"\nbase_url = \"https://x/v1\"\nimage_size = 512\n",
    );
    assert!(err.message.contains("kind `demo` or `a1111`"), "{err}");
}

// --- the comfyui kind ---

const COMFYUI: &str =
    "[[backends]]\nname = \"comfy\"\nkind = \"comfyui\"\nbase_url = \"http://127.0.0.1:8188\"\n";

#[test]
fn a_comfyui_backend_reads_its_workflows_and_runs_one_prompt_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{COMFYUI}model = \"sd_xl_base_1.0.safetensors\"\nimage_size = 768\npoll_ms = 500\n\
         workflows = {{ imagine = \"flows/imagine.json\", variation = \"\" }}\n"
    );
    let path = write(&dir, &text);
    let env = env(&[("EASEL__BACKENDS__0__WORKFLOWS__UPSCALE", "/etc/easel/1234.json")]);
    let config = checked(Some(&path), env).unwrap();
    let b = &config.backends[0];
    assert_eq!(b.kind, "comfyui");
    let w: std::collections::BTreeMap<String, String> = b.get("workflows").unwrap();
    assert_eq!(w.get("imagine").map(String::as_str), Some("flows/imagine.json"));
    assert_eq!(w.get("variation").map(String::as_str), Some(""), "an empty path turns V off");
    assert_eq!(
        w.get("upscale").map(String::as_str),
        Some("/etc/easel/1234.json"),
        "set from the environment, kept as text"
    );
    assert_eq!(
        (b.get::<u32>("image_size"), b.get::<u64>("poll_ms"), concurrency(b)),
        (Some(768), Some(500), 1)
    );
}

#[test]
fn comfyui_edit_and_upscale_creative_workflows_are_read_from_file_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, &format!("{COMFYUI}workflows = {{ edit = \"flows/outpaint.json\" }}\n"));
    let env = env(&[("EASEL__BACKENDS__0__WORKFLOWS__UPSCALE_CREATIVE", "")]);
    let config = checked(Some(&path), env).unwrap();
    let w: std::collections::BTreeMap<String, String> = config.backends[0].get("workflows").unwrap();
    assert_eq!(w.get("edit").map(String::as_str), Some("flows/outpaint.json"));
    assert_eq!(w.get("upscale_creative").map(String::as_str), Some(""), "turned off from the environment");
}

#[test]
fn comfyui_values_are_checked() {
    let cases = [
        ("image_size = 100\n", "image_size"),
        ("poll_ms = 5\n", "poll_ms"),
        ("model = \" \"\n", "model"),
        ("workflows = { imagine = \"\" }\n", "workflows"),
        ("workflows = { describe = \"d.json\" }\n", "workflows.describe"),
        ("sampler = \"euler\"\n", "sampler"),
    ];
    for (line, key) in cases {
        let err = error_for(&format!("{COMFYUI}{line}"));
        assert_eq!(err.key, format!("backends[0].{key}"), "{line}: {err}");
    }
    let err = error_for(
        "[[backends]]\nname = \"gpu\"\nkind = \"a1111\"\nbase_url = \"http://x\"\nworkflows = {}\n",
    );
    assert!(err.message.contains("kind `comfyui`"), "{err}");
    assert_eq!(error_for("[[backends]]\nname = \"c\"\nkind = \"comfyui\"\n").key, "backends[0].base_url");
}

#[test]
fn check_config_notes_a_request_timeout_that_leaves_no_room_for_a_retry() {
    let mut config = Config::default();
    let mut slow = BackendConfig::new("slow", "openai");
    slow.timeout_secs = 600;
    config.backends = vec![slow.clone()];
    let summary = summary(&config);
    assert!(summary.contains("note: backend `slow` waits up to 600 s per request"), "{summary}");
    // The defaults (180 s per request, 900 s per task) leave room for retries.
    slow.timeout_secs = 180;
    config.backends = vec![slow];
    assert!(config.timing_notes().is_empty());
}
