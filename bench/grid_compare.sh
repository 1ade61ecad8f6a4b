#!/usr/bin/env bash
# Side-by-side timing of the "backend done -> grid ready" path on the SAME four PNG files:
# Easel (Rust: image decode on 2 threads, row-copy compose, mozjpeg-fastest q90 4:2:0)
# versus Pillow (sequential and 2-thread decode) and pyvips when it is importable.
#
# Installs nothing. One-time setup (Debian 12 / the project machine):
#   apt-get update && apt-get install -y nasm   # mozjpeg's SIMD; without it JPEG is ~8x slower
#   pip install pillow numpy                    # required
#   pip install pyvips pyvips-binary            # optional, adds the libvips row
#
# Usage: bench/grid_compare.sh            (from anywhere; runs in the crate above bench/)
# Env:   REPS=15           Python reps (criterion chooses its own iteration counts)
#        INPUTS=DIR        where the tiles are written/read (default: $TMPDIR/easel-grid-inputs;
#                          existing tile0..3.png there are reused)
#        CRATE_DIR=DIR     crate holding benches/grid.rs (default: parent of this script)
#        CARGO_TARGET_DIR  honoured as usual; criterion's results go under it
# The machine has 2 cores: run this with nothing else building, or the numbers are noise.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
crate=${CRATE_DIR:-$(dirname "$here")}
inputs=${INPUTS:-${TMPDIR:-/tmp}/easel-grid-inputs}
reps=${REPS:-15}

if ! python3 -c 'import PIL, numpy' 2>/dev/null; then
    echo "error: needs Pillow and numpy: pip install pillow numpy" >&2
    exit 1
fi
if ! command -v nasm >/dev/null; then
    echo "warning: nasm not found, so mozjpeg builds without SIMD and the Rust JPEG" \
        "numbers will be ~8x worse (apt-get install nasm, then cargo clean -p mozjpeg-sys)" >&2
fi

# Busy fraction of all CPUs over one second, from /proc/stat (Linux only; 0 elsewhere).
busy_percent() {
    [[ -r /proc/stat ]] || { echo 0; return; }
    local a b
    read -r -a a < /proc/stat
    sleep 1
    read -r -a b < /proc/stat
    local idle=$(((b[4] + b[5]) - (a[4] + a[5])))
    local total=0 i
    for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
    echo $((total > 0 ? 100 * (total - idle) / total : 0))
}
busy=$(busy_percent)
if ((busy > 10)); then
    echo "warning: CPUs already ${busy}% busy; timings will be inflated" >&2
fi

if [[ ! -f "$inputs/tile3.png" ]]; then
    python3 "$here/gen_grid_inputs.py" "$inputs"
fi

echo "== Python (Pillow / pyvips) on $inputs"
python3 "$here/pillow_grid.py" "$inputs" --reps "$reps"

echo
echo "== Rust (criterion) on $inputs"
target=${CARGO_TARGET_DIR:-$(cd "$crate" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}
(cd "$crate" && EASEL_GRID_INPUTS="$inputs" CARGO_TARGET_DIR="$target" cargo bench --bench grid)

echo
echo "== Rust medians (criterion median estimate)"
for id in decode4_compose_jpeg90 decode4 compose encode_jpeg90; do
    python3 - "$target/criterion/grid/$id/new/estimates.json" "$id" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))["median"]
ci = m["confidence_interval"]
print(f"easel grid/{sys.argv[2]:<24} {m['point_estimate'] / 1e6:8.2f} ms"
      f"  (95% CI {ci['lower_bound'] / 1e6:.2f}-{ci['upper_bound'] / 1e6:.2f})")
EOF
done
