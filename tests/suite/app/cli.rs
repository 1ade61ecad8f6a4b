//! The `easel` binary as an admin runs it: `imagine` with no config at all, `check-config` on
//! good, bad and unreadable files, and what the Docker image and compose run: `sandbox
//! --listen` and `healthcheck` against a running, an unhealthy and a stopped Easel.

use crate::support;

use std::io::BufRead;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::world::{Backend, World};

/// How long a started `easel sandbox` gets to print its addresses and connect its bot.
const START: Duration = Duration::from_secs(60);

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
    assert!(stdout.contains("task 1: 75%\n") && !stdout.contains('\r'), "not a terminal: plain lines");
    let mut files: Vec<String> = std::fs::read_dir(dir.path().join("pictures"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["task1-1.png", "task1-2.png", "task1-3.png", "task1-4.png", "task1-grid.jpg"]);
    assert!(dir.path().join("data/easel.db").exists(), "the default database lives under ./data");
}

#[test]
fn imagine_on_a_terminal_draws_a_progress_bar() {
    let dir = tempfile::tempdir().unwrap();
    // `script` gives the command a pseudo-terminal and copies what it shows to stdout.
    let command = format!("{} imagine 'a lighthouse at dusk' --out pictures", env!("CARGO_BIN_EXE_easel"));
    let out = Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .current_dir(dir.path())
        .env_remove("EASEL_CONFIG")
        .env_remove("DISCORD_TOKEN")
        .output()
        .expect("script (util-linux) runs");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(screen.contains("\r\x1b[2Ktask 1 [████"), "a bar redrawn in place: {screen:?}");
    assert!(screen.contains("████████████████████████] 100%"), "{screen:?}");
    assert!(!screen.contains("task 1: 25%"), "no line per step on a terminal: {screen:?}");
    assert!(screen.contains("task1-grid.jpg"), "the results follow: {screen:?}");
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

/// `nobody`, whom a test running as root becomes to meet file permissions at all.
const NOBODY: u32 = 65534;

#[test]
fn an_unreadable_config_is_reported_as_permission_denied_and_the_systemd_recipe_reads() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let etc = root.join("etc-easel");
    std::fs::create_dir(&etc).unwrap();
    let file = etc.join("easel.toml");
    std::fs::write(&file, "[discord]\ntoken = \"abc.def\"\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let as_root = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&file).unwrap()) == 0;
    let check = || {
        let mut cmd = easel(root);
        cmd.args(["check-config", "--config"]).arg(&file);
        if as_root {
            // Root reads anything; the service runs as its own user.
            cmd.uid(NOBODY).gid(NOBODY);
        }
        cmd.output().unwrap()
    };
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The old recipe: a folder only its owner may enter (root's, for the service's user).
    std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(if as_root { 0o750 } else { 0o000 }))
        .unwrap();
    let out = check();
    std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(0o750)).unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("easel.toml")
            && stderr.contains("permission denied")
            && !stderr.contains("does not exist"),
        "{stderr}"
    );

    // The recipe in deploy/easel.service: folder and file in the service's group.
    if as_root {
        std::os::unix::fs::chown(&etc, None, Some(NOBODY)).unwrap();
        std::os::unix::fs::chown(&file, None, Some(NOBODY)).unwrap();
    }
    let out = check();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// An `easel sandbox` process and the addresses it printed.
struct SandboxProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`, where this machine reaches the page.
    page: String,
    /// What `Health and metrics:` names, when `http.listen` is set.
    healthz: Option<String>,
    printed: String,
}

impl SandboxProcess {
    async fn start(dir: &std::path::Path, args: &[&str], envs: &[(&str, &str)]) -> SandboxProcess {
        let mut child = easel(dir)
            .arg("sandbox")
            .args(args)
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        // Its last line before serving is `Ctrl-C stops it…`.
        let reading = tokio::task::spawn_blocking(move || {
            let mut printed = String::new();
            for line in std::io::BufReader::new(stdout).lines() {
                let line = line.unwrap();
                printed.push_str(&line);
                printed.push('\n');
                if line.starts_with("Ctrl-C") {
                    break;
                }
            }
            printed
        });
        let printed = tokio::time::timeout(START, reading).await.expect("the sandbox starts").unwrap();
        let url_after = |marker: &str| {
            let rest = printed.split(marker).nth(1)?;
            Some(rest.split_whitespace().next()?.trim_end_matches('/').to_owned())
        };
        let page = url_after("open ").unwrap_or_else(|| panic!("no page address in:\n{printed}"));
        let healthz = url_after("Health and metrics: ");
        let process = SandboxProcess { child, page, healthz, printed };
        process.wait_until_bot_ready(&process.page).await;
        process
    }

    /// Waits (on the control API's long poll) until the bot has connected and registered.
    async fn wait_until_bot_ready(&self, base: &str) {
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + START;
        loop {
            let state: Value =
                http.get(format!("{base}/control/state")).send().await.unwrap().json().await.unwrap();
            if state["bot_connected"] == true && state["commands"].as_array().is_some_and(|c| !c.is_empty()) {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "the bot never connected:\n{}", self.printed);
            let after = state["version"].as_u64().unwrap();
            let _ = http.get(format!("{base}/control/wait?after={after}&timeout_ms=5000")).send().await;
        }
    }

    /// SIGTERM, as `docker stop` sends; the sandbox exits cleanly.
    fn stop(mut self) {
        let sent = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(sent.success());
        assert!(self.child.wait().unwrap().success(), "the sandbox stops cleanly on SIGTERM");
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The same port on another loopback address: only a socket on every interface answers there.
fn on_other_loopback(page: &str) -> String {
    page.replace("//127.0.0.1:", "//127.0.0.2:")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_stays_on_loopback_unless_told_to_listen_wider() {
    let dir = tempfile::tempdir().unwrap();
    let local = SandboxProcess::start(dir.path(), &["--port", "0"], &[]).await;
    assert!(local.page.starts_with("http://127.0.0.1:"), "{}", local.printed);
    assert!(!local.printed.contains("anyone who can reach it"), "{}", local.printed);
    assert_eq!(reqwest::get(format!("{}/", local.page)).await.unwrap().status(), 200);
    let elsewhere = reqwest::get(format!("{}/", on_other_loopback(&local.page))).await;
    assert!(elsewhere.is_err_and(|e| e.is_connect()), "127.0.0.1 only by default");
    local.stop();

    let wide = SandboxProcess::start(dir.path(), &["--listen", "0.0.0.0", "--port", "0"], &[]).await;
    assert!(wide.printed.contains("Listening on 0.0.0.0:"), "{}", wide.printed);
    assert!(wide.printed.contains("anyone who can reach it can use it"), "{}", wide.printed);
    // The bot inside still talks to it over loopback; the page is served on every interface.
    assert!(wide.page.starts_with("http://127.0.0.1:"), "{}", wide.printed);
    let page = reqwest::get(format!("{}/", on_other_loopback(&wide.page))).await.unwrap();
    assert_eq!(page.status(), 200);
    wide.stop();

    let out = easel(dir.path()).args(["sandbox", "--listen", "everywhere"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("0.0.0.0:8787"), "the error shows the form");
}

/// Runs `easel healthcheck` with these arguments and environment; returns (exit code, output).
fn healthcheck(dir: &std::path::Path, args: &[&str], envs: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = easel(dir).arg("healthcheck").args(args).envs(envs.iter().copied()).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_finds_healthz_as_the_image_configures_it_and_fails_once_easel_stops() {
    let dir = tempfile::tempdir().unwrap();
    // What the Dockerfile sets: every interface, which the healthcheck reaches over loopback.
    let every = [("EASEL__HTTP__LISTEN", "0.0.0.0:0")];
    let sandbox = SandboxProcess::start(dir.path(), &["--port", "0"], &every).await;
    let healthz = sandbox.healthz.clone().unwrap_or_else(|| panic!("no healthz in:\n{}", sandbox.printed));
    let listen = healthz.trim_start_matches("http://").trim_end_matches("/healthz").to_owned();
    assert!(listen.starts_with("0.0.0.0:"), "{healthz}");
    let env = [("EASEL__HTTP__LISTEN", listen.as_str())];

    let (code, text) = healthcheck(dir.path(), &[], &env);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("healthy") && text.contains("\"gateway\":\"connected\""), "{text}");

    sandbox.stop();
    let (code, text) = healthcheck(dir.path(), &[], &env);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("cannot reach http://127.0.0.1:") && text.contains("onnection refused"), "{text}");

    let (code, text) = healthcheck(dir.path(), &[], &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("http.listen") && text.contains("EASEL__HTTP__LISTEN"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_fails_while_easel_is_unhealthy() {
    let mut w = World::new(Backend::Demo { step_ms: 10 }, |c| c.http.listen = "127.0.0.1:0".into()).await;
    w.start_in_process().await;
    let url = format!("http://{}/healthz", w.http.unwrap());
    let dir = w.dir.path().to_owned();
    // Off the runtime's workers, which serve the /healthz being asked.
    let ask = || {
        let (dir, url) = (dir.clone(), url.clone());
        tokio::task::spawn_blocking(move || healthcheck(&dir, &["--url", &url], &[]))
    };
    let (code, text) = ask().await.unwrap();
    assert_eq!(code, Some(0), "{text}");

    w.health().unwrap().set_gateway(false);
    let (code, text) = ask().await.unwrap();
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("503") && text.contains("disconnected"), "{text}");
}
