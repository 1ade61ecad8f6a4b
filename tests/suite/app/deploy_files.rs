//! The Dockerfile names only what the binary has: its entrypoint, command, healthcheck and the
//! commands its header shows exist, and its `ENV` is a config Easel accepts (unknown keys are
//! refused, so a misspelt `EASEL__…` fails here rather than in someone's container). No Docker
//! engine is needed: the commands run on the binary this test suite built.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn dockerfile() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile")).unwrap()
}

/// The Dockerfile's instructions, continuation lines joined, comments dropped.
fn instructions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim).filter(|l| !l.starts_with('#') && !l.is_empty()) {
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    out
}

/// The JSON array after `keyword` in the instruction that starts with `instruction`.
fn exec_form(instructions: &[String], instruction: &str, keyword: &str) -> Vec<String> {
    let line = instructions
        .iter()
        .rfind(|l| l.starts_with(instruction))
        .unwrap_or_else(|| panic!("the Dockerfile has no {instruction}"));
    let json = line.split_once(keyword).expect("exec form").1.trim();
    serde_json::from_str(json).unwrap_or_else(|e| panic!("`{line}` is not in exec form: {e}"))
}

fn easel(args: &[String]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_easel")).args(args).env_remove("EASEL_CONFIG").output().unwrap()
}

#[test]
fn every_command_the_image_runs_exists() {
    let text = dockerfile();
    let ins = instructions(&text);
    let entrypoint = exec_form(&ins, "ENTRYPOINT", "ENTRYPOINT");
    assert_eq!(entrypoint, ["easel"]);
    let mut commands = vec![exec_form(&ins, "CMD", "CMD")];
    let health = exec_form(&ins, "HEALTHCHECK", " CMD ");
    assert_eq!(health[0], "easel", "the healthcheck runs the binary");
    commands.push(health[1..].to_vec());
    // The header's examples, such as `docker run … easel sandbox --listen 0.0.0.0`.
    for line in text.lines().filter(|l| l.starts_with('#') && l.contains(" easel sandbox")) {
        let args = line.split(" easel ").last().unwrap().split('#').next().unwrap();
        commands.push(args.split_whitespace().map(str::to_owned).collect());
    }
    assert!(commands.len() >= 3, "run, healthcheck and the sandbox example: {commands:?}");
    for mut args in commands {
        args.push("--help".into());
        let out = easel(&args);
        assert!(out.status.success(), "easel {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn the_images_environment_is_a_config_easel_accepts() {
    let text = dockerfile();
    let ins = instructions(&text);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let mut env = BTreeMap::new();
    for line in ins.iter().filter(|l| l.starts_with("ENV ")) {
        for pair in line["ENV ".len()..].split_whitespace() {
            let (key, value) = pair.split_once('=').expect("ENV KEY=VALUE");
            // The image's /data and /etc/easel live in this test's folder.
            env.insert(key.to_owned(), value.replace("/data", data).replace("/etc/easel", data));
        }
    }
    assert!(env["EASEL__HTTP__LISTEN"].starts_with("0.0.0.0:"), "the healthcheck's address: {env:?}");
    // The placeholder config the image ships, as its `printf` writes it.
    let placeholder = text.split("printf '").nth(1).and_then(|t| t.split("\\n'").next()).expect("printf");
    std::fs::write(&env["EASEL_CONFIG"], format!("{placeholder}\n")).unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_easel"))
        .arg("check-config")
        .envs(&env)
        .env("DISCORD_TOKEN", "abc.def")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("database: sqlite://{data}/easel.db")), "{stdout}");
}
