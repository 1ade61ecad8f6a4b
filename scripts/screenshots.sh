#!/usr/bin/env bash
# Regenerates the README's pictures of the sandbox page, docs/screenshots/sandbox-*.png: the
# browser test (tests/suite/discord/browser.rs) drives the page in headless Chromium against the
# demo backend and, with EASEL_SCREENSHOTS_TO_DOCS set, writes its screenshots there as well as
# to target/test-artifacts. A plain `cargo test` leaves docs/ alone.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  echo "screenshots.sh needs Debian's chromium: apt-get install chromium" >&2
  exit 1
fi
EASEL_SCREENSHOTS_TO_DOCS=1 cargo test --test suite \
  discord::browser::a_member_imagines_and_upscales_in_the_browser -- --exact
ls -l docs/screenshots/
