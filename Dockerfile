# Easel in a container: a build stage with the Rust toolchain (and nasm, for mozjpeg's SIMD),
# and a small runtime stage with only the binary, CA certificates and a non-root user.
#   docker build -t easel .
#   docker run -d --name easel -e DISCORD_TOKEN=... -v easel-data:/data \
#     -v $PWD/easel.toml:/etc/easel/easel.toml:ro -p 127.0.0.1:9090:9090 easel
#   docker run --rm -p 127.0.0.1:8787:8787 easel sandbox --listen 0.0.0.0   # the offline page
# deploy/compose.yml runs it with compose (optionally with PostgreSQL, S3 and ComfyUI).
FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends nasm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src

# Dependencies first, in their own layer: built from the manifest and lock with empty sources,
# so editing Easel's code rebuilds only Easel (the dependencies, mozjpeg and SQLite among them,
# take most of the build). Cargo.toml names the bench files, so they must exist too.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches bench \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && for f in benches/grid.rs benches/prompt_parse.rs bench/load.rs bench/soak.rs; do echo 'fn main() {}' > "$f"; done \
 && cargo build --release --locked --bin easel \
 && rm -rf src benches bench target/release/easel target/release/deps/easel-* \
      target/release/deps/libeasel-* target/release/.fingerprint/easel-*

COPY src src
COPY migrations migrations
COPY benches benches
COPY bench bench
RUN cargo build --release --locked --bin easel \
 && strip target/release/easel

FROM debian:bookworm-slim
# The config file is a placeholder, so every command works without one (the sandbox, say);
# mount yours over it. Group easel may read /etc/easel, nobody may change it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --user-group --uid 10001 --home-dir /data --shell /usr/sbin/nologin easel \
 && mkdir -p /data /etc/easel \
 && chown easel:easel /data \
 && printf '# Mount your easel.toml over this file (start from config.minimal.toml).\n' > /etc/easel/easel.toml \
 && chgrp -R easel /etc/easel \
 && chmod 0750 /etc/easel \
 && chmod 0640 /etc/easel/easel.toml
COPY --from=build /src/target/release/easel /usr/local/bin/easel
# easel:easel, by number so Kubernetes' runAsNonRoot can check it.
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# Everything Easel writes lives on the volume; /healthz and /metrics on 9090.
ENV EASEL__DATABASE__URL=sqlite:///data/easel.db \
    EASEL__STORAGE__DIR=/data/images \
    EASEL__HTTP__LISTEN=0.0.0.0:9090 \
    EASEL_CONFIG=/etc/easel/easel.toml
EXPOSE 9090 8787
# `easel healthcheck` asks /healthz on EASEL__HTTP__LISTEN: 0 when Easel is connected to
# Discord and its database takes writes, 1 otherwise. /healthz waits up to 10 s for the
# backends' probes, hence the timeout.
HEALTHCHECK --interval=30s --timeout=20s --start-period=30s --retries=3 CMD ["easel", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["easel"]
CMD ["run"]
