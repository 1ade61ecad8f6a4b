//! An end-to-end world: the sandbox (Discord), a fake OpenAI-compatible service, and Easel —
//! either in this process or as the real `easel` binary, which a test can kill and restart on
//! the same database.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use easel::app::App;
use easel::cli::serve::Server;
use easel::config::{BackendConfig, Config, Secret};
use easel::http::Health;
use easel::sandbox::{CommandOption, Message, Sandbox, SandboxOptions};

use super::fake_openai::{FakeOpenAi, Knobs};

pub const WAIT: Duration = Duration::from_secs(60);
pub const API_KEY: &str = "sk-e2e-4b1d9c0ffee";

pub struct World {
    pub sandbox: Sandbox,
    pub fake: FakeOpenAi,
    pub dir: tempfile::TempDir,
    pub config: Config,
    /// Where `/healthz` and `/metrics` are served, when `http.listen` is set.
    pub http: Option<std::net::SocketAddr>,
    /// `RUST_LOG` for the `easel` process.
    pub log_filter: String,
    bot: Option<Bot>,
}

enum Bot {
    InProcess(Server),
    Process(Child),
}

/// Which backend the world's Easel uses.
pub enum Backend {
    /// The fake OpenAI-compatible service over HTTP.
    OpenAi,
    /// The built-in demo, with `step_ms` between progress steps.
    Demo { step_ms: u64 },
}

impl World {
    pub async fn new(backend: Backend, tweak: impl FnOnce(&mut Config)) -> World {
        World::with_sandbox(SandboxOptions::default(), backend, tweak).await
    }

    /// A world whose sandbox is started with `options` (a realistic token, say).
    pub async fn with_sandbox(
        options: SandboxOptions,
        backend: Backend,
        tweak: impl FnOnce(&mut Config),
    ) -> World {
        let sandbox = Sandbox::start(options).await.expect("sandbox starts");
        let fake = FakeOpenAi::start(Knobs { api_key: Some(API_KEY.into()), ..Knobs::default() }).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::default();
        config.discord.token = Secret::new(sandbox.bot_token());
        config.discord.api_base = sandbox.api_base();
        config.discord.guild_ids = vec![sandbox.guild_id()];
        config.database.url = format!("sqlite://{}", dir.path().join("easel.db").display());
        config.storage.dir = dir.path().join("images");
        config.backends = vec![match backend {
            Backend::OpenAi => {
                let mut b = BackendConfig::new("cloud", "openai");
                b.base_url = fake.base_url.clone();
                b.api_key = Secret::new(API_KEY);
                b.model = Some("gpt-image-1".into());
                b.timeout_secs = 30;
                b
            }
            Backend::Demo { step_ms } => {
                let mut b = BackendConfig::demo("demo");
                b.set("image_size", 128);
                b.set("step_ms", step_ms);
                b
            }
        }];
        tweak(&mut config);
        World { sandbox, fake, dir, config, http: None, log_filter: "easel=debug,info".into(), bot: None }
    }

    /// Runs Easel in this process, as `easel run` does.
    pub async fn start_in_process(&mut self) -> Arc<App> {
        let server = Server::start(self.config.clone()).await.expect("Easel starts");
        let app = server.app.clone();
        self.http = server.http;
        self.bot = Some(Bot::InProcess(server));
        self.sandbox.wait_ready(WAIT).await.expect("the bot connects and registers its commands");
        app
    }

    /// Runs the real `easel` binary; its log goes to `bot-<n>.log` in the world's folder.
    pub async fn start_process(&mut self, n: u32) {
        let identifies = self.sandbox.stats().identifies;
        let config_path = self.dir.path().join("easel.toml");
        std::fs::write(&config_path, toml_for(&self.config)).expect("write config");
        let log = std::fs::File::create(self.log_path(n)).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_easel"))
            .args(["run", "--config"])
            .arg(&config_path)
            .env_remove("DISCORD_TOKEN")
            .env("RUST_LOG", &self.log_filter)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn easel");
        self.bot = Some(Bot::Process(child));
        self.sandbox
            .wait_for(WAIT, |v| (v.stats().identifies > identifies && v.bot_connected()).then_some(()))
            .await
            .expect("the bot process connects");
        self.sandbox.wait_ready(WAIT).await.expect("commands registered");
    }

    pub fn log_path(&self, n: u32) -> PathBuf {
        self.dir.path().join(format!("bot-{n}.log"))
    }

    /// Stops the bot at once: `kill -9` for a process, abort for an in-process bot.
    pub fn kill(&mut self) {
        match self.bot.take() {
            Some(Bot::Process(mut child)) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Some(Bot::InProcess(server)) => server.abort(),
            None => {}
        }
    }

    /// Asks the `easel` process to stop as `docker stop` and systemd do (SIGTERM) and waits
    /// for it to exit; returns whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        let Some(Bot::Process(mut child)) = self.bot.take() else { panic!("no easel process to stop") };
        let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM failed");
        child.wait().expect("easel exits").success()
    }

    pub fn app(&self) -> Option<Arc<App>> {
        match &self.bot {
            Some(Bot::InProcess(server)) => Some(server.app.clone()),
            _ => None,
        }
    }

    /// The gateway flag `/healthz` reports, of the bot in this process.
    pub fn health(&self) -> Option<Arc<Health>> {
        match &self.bot {
            Some(Bot::InProcess(server)) => Some(server.health.clone()),
            _ => None,
        }
    }

    pub async fn imagine(&self, user: u64, prompt: &str) -> u64 {
        self.sandbox
            .slash(user, "imagine", vec![CommandOption::string("prompt", prompt)])
            .await
            .expect("slash dispatched")
    }

    /// Waits until the interaction's original message shows a final state (buttons, or a failure).
    pub async fn final_original(&self, interaction: u64) -> Message {
        self.sandbox
            .wait_for(WAIT, |v| v.original_message(interaction).filter(|m| is_final(m)).cloned())
            .await
            .expect("the message reaches a final state")
    }

    /// Waits for a final message (other than `after_ids`) whose content contains `needle`.
    pub async fn final_message_with(&self, needle: &str) -> Message {
        self.sandbox
            .wait_for(WAIT, |v| {
                v.messages().iter().find(|m| m.content.contains(needle) && is_final(m)).cloned()
            })
            .await
            .expect("a final message appears")
    }

    pub fn assert_no_violations(&self) {
        let v = self.sandbox.violations();
        assert!(v.is_empty(), "sandbox violations: {v:#?}");
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A message is final when it has buttons, an image without a progress percentage, or says
/// the task failed or was canceled.
pub fn is_final(m: &Message) -> bool {
    let progress = m.content.contains("%)") || m.content.contains("(Waiting to");
    !m.loading
        && !progress
        && (m.buttons().next().is_some() || !m.attachments.is_empty() || m.content.contains("(Failed)"))
}

fn toml_for(c: &Config) -> String {
    let b = &c.backends[0];
    let backend = match b.kind.as_str() {
        "demo" => format!(
            "name = \"{}\"\nkind = \"demo\"\nimage_size = {}\nstep_ms = {}\n",
            b.name,
            b.get::<u32>("image_size").unwrap_or(128),
            b.get::<u64>("step_ms").unwrap_or(0)
        ),
        "openai" => format!(
            "name = \"{}\"\nkind = \"openai\"\nbase_url = \"{}\"\napi_key = \"{}\"\nmodel = \"gpt-image-1\"\n\
             timeout_secs = {}\n",
            b.name,
            b.base_url,
            b.api_key.expose(),
            b.timeout_secs
        ),
        "ohmygpt" => format!(
            "name = \"{}\"\nkind = \"ohmygpt\"\nbase_url = \"{}\"\napi_key = \"{}\"\npoll_ms = {}\nimage_hosts = {:?}\n",
            b.name,
            b.base_url,
            b.api_key.expose(),
            b.get::<u64>("poll_ms").unwrap_or(2000),
            b.image_hosts
        ),
        other => panic!("the test world writes demo, openai and ohmygpt configs only, not {other:?}"),
    };
    let backend = match b.concurrency {
        Some(n) => format!("{backend}concurrency = {n}\n"),
        None => backend,
    };
    format!(
        "[discord]\ntoken = \"{}\"\napi_base = \"{}\"\nguild_ids = {:?}\nbuttons_owner_only = {}\n\n\
         [database]\nurl = \"{}\"\n\n[storage]\ndir = \"{}\"\n\n\
         [limits]\nmax_attempts = {}\ntask_deadline_secs = {}\n\n[[backends]]\n{backend}",
        c.discord.token.expose(),
        c.discord.api_base,
        c.discord.guild_ids,
        c.discord.buttons_owner_only,
        c.database.url,
        c.storage.dir.display(),
        c.limits.max_attempts,
        c.limits.task_deadline_secs,
    )
}
