//! The `easel` binary as an admin runs it: `imagine` with no config at all, and
//! `check-config` on good and bad files.

use std::process::Command;

fn easel(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_easel"));
    cmd.current_dir(dir).env_remove("EASEL_CONFIG").env_remove("DISCORD_TOKEN").env("NO_COLOR", "1");
    cmd
}

#[test]
fn imagine_with_no_config_writes_a_grid_and_four_images() {
    let dir = tempfile::tempdir().unwrap();
    let out = easel(dir.path())
        .args(["imagine", "a lighthouse at dusk --ar 3:2", "--out", "pictures"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("75%") && stdout.contains("succeeded"), "{stdout}");
    let mut files: Vec<String> = std::fs::read_dir(dir.path().join("pictures"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["task1-1.png", "task1-2.png", "task1-3.png", "task1-4.png", "task1-grid.jpg"]);
    assert!(dir.path().join("data/easel.db").exists(), "the default database lives under ./data");
}

#[test]
fn imagine_explains_a_bad_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let out = easel(dir.path()).args(["imagine", "a cat --ar 9:1"]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--ar"), "{stderr}");
}

#[test]
fn check_config_summarises_a_good_file_and_names_the_key_in_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.toml"), "[discord]\ntoken = \"abc.def\"\n").unwrap();
    let out = easel(dir.path()).args(["check-config", "--config", "good.toml"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("token set (redacted)") && !stdout.contains("abc.def"), "{stdout}");

    std::fs::write(dir.path().join("bad.toml"), "[[backends]]\nname = \"x\"\nkind = \"midjourney\"\n")
        .unwrap();
    let out = easel(dir.path()).args(["check-config", "--config", "bad.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.toml") && stderr.contains("backends[0].kind") && stderr.contains("`midjourney`"),
        "{stderr}"
    );

    let out = easel(dir.path()).args(["check-config", "--config", "missing.toml"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));

    let out = easel(dir.path()).args(["check-config"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "no token: the bot could not run");
    assert!(String::from_utf8_lossy(&out.stderr).contains("DISCORD_TOKEN"));
}

#[test]
fn check_config_reads_comfyui_workflow_templates() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("imagine.json"),
        r#"{"1": {"class_type": "KSampler", "inputs": {"seed": "{{seed}}"}}}"#,
    )
    .unwrap();
    let config = "[[backends]]\nname = \"comfy\"\nkind = \"comfyui\"\nbase_url = \"http://127.0.0.1:8188\"\n\
                  model = \"sd.safetensors\"\nworkflows = { imagine = \"imagine.json\" }\n";
    std::fs::write(dir.path().join("comfy.toml"), config).unwrap();
    let out = easel(dir.path()).args(["check-config", "--config", "comfy.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("backend `comfy`") && stderr.contains("imagine.json") && stderr.contains("lacks"),
        "{stderr}"
    );
}

#[test]
fn json_logs_carry_the_task_the_member_and_the_backend_on_every_task_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = easel(dir.path())
        .args(["imagine", "a quiet lake"])
        .env("EASEL__LOG__FORMAT", "json")
        .env("RUST_LOG", "easel=debug")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let succeeded = lines
        .iter()
        .find(|l| l["fields"]["message"] == "task succeeded")
        .unwrap_or_else(|| panic!("no `task succeeded` line in:\n{stderr}"));
    assert_eq!(succeeded["span"]["task_id"], 1, "{succeeded}");
    assert_eq!(succeeded["span"]["user_id"], "cli");
    assert_eq!(succeeded["span"]["backend"], "demo");
    let queued =
        lines.iter().find(|l| l["fields"]["message"] == "task queued").expect("a `task queued` line");
    assert_eq!(queued["fields"]["backend"], "demo");
}
