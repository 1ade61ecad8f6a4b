# Easel in a container: a build stage with the Rust toolchain (and nasm, for mozjpeg's SIMD),
# and a small runtime stage with only the binary, CA certificates and a non-root user.
#   docker build -t easel .
#   docker run -d --name easel -e DISCORD_TOKEN=... -v easel-data:/data \
#     -v $PWD/easel.toml:/etc/easel/easel.toml:ro -p 127.0.0.1:9090:9090 easel
FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends nasm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
COPY benches benches
COPY bench bench
RUN cargo build --release --locked --bin easel \
 && strip target/release/easel

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin easel \
 && mkdir -p /data /etc/easel \
 && chown easel:easel /data
COPY --from=build /src/target/release/easel /usr/local/bin/easel
USER easel
WORKDIR /data
VOLUME ["/data"]
# Everything Easel writes lives on the volume; /healthz and /metrics on 9090.
ENV EASEL__DATABASE__URL=sqlite:///data/easel.db \
    EASEL__STORAGE__DIR=/data/images \
    EASEL__HTTP__LISTEN=0.0.0.0:9090 \
    EASEL_CONFIG=/etc/easel/easel.toml
EXPOSE 9090
STOPSIGNAL SIGTERM
ENTRYPOINT ["easel"]
CMD ["run"]
