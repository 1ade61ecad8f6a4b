#!/usr/bin/env python3
"""Times the grid pipeline a Python bot would run: decode 4 PNGs, paste them into a 2x2
grid, save JPEG q90 4:2:0, with Pillow (sequential, and with a 2-thread decode), and with
pyvips if it is importable. Medians of N timed reps after one warm-up.

This is the reference side of Easel's `cargo bench --bench grid` (ids grid/decode4,
grid/compose, grid/encode_jpeg90, grid/decode4_compose_jpeg90): the PNGs are read into
memory first, so both sides time decoding from bytes, not file I/O.

Usage: python3 bench/pillow_grid.py INPUT_DIR [--reps 15] [--quality 90] [--only "par2 decode4$"]
Needs: pip install pillow numpy   (optional: pip install pyvips pyvips-binary)
"""

import argparse
import glob
import io
import os
import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from PIL import Image


def load_blobs(directory):
    paths = sorted(glob.glob(os.path.join(directory, "*.png")))[:4]
    if len(paths) < 4:
        raise SystemExit(f"{directory} holds fewer than 4 PNGs (run gen_grid_inputs.py)")
    blobs = []
    for p in paths:
        with open(p, "rb") as f:
            blobs.append(f.read())
    return paths, blobs


def decode(blob):
    im = Image.open(io.BytesIO(blob))
    im.load()  # Pillow's decoder releases the GIL here, so threads do run in parallel
    return im if im.mode == "RGB" else im.convert("RGB")


def compose(tiles):
    w, h = tiles[0].size
    grid = Image.new("RGB", (2 * w, 2 * h))
    for i, tile in enumerate(tiles):
        grid.paste(tile, ((i % 2) * w, (i // 2) * h))
    return grid


def encode(grid, quality):
    out = io.BytesIO()
    grid.save(out, "JPEG", quality=quality, subsampling=2)  # 2 = 4:2:0
    return out.getvalue()


def median_ms(fn, reps):
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input_dir")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--quality", type=int, default=90)
    ap.add_argument("--only", default="", help="regex: run only rows whose 'impl operation' matches")
    args = ap.parse_args()
    paths, blobs = load_blobs(args.input_dir)
    q = args.quality
    pool = ThreadPoolExecutor(2)  # created once: a bot would keep its pool

    def seq_decode():
        return [decode(b) for b in blobs]

    def par2_decode():
        return list(pool.map(decode, blobs))

    tiles = seq_decode()
    grid = compose(tiles)
    grid_bytes = len(encode(grid, q))
    rows = [
        ("pillow seq", "decode4+compose+jpeg", lambda: encode(compose(seq_decode()), q)),
        ("pillow par2", "decode4+compose+jpeg", lambda: encode(compose(par2_decode()), q)),
        ("pillow seq", "decode4", seq_decode),
        ("pillow par2", "decode4", par2_decode),
        ("pillow", "compose", lambda: compose(tiles)),
        ("pillow", "encode_jpeg", lambda: encode(grid, q)),
    ]

    vips_bytes = None
    try:
        import pyvips

        pyvips.cache_set_max(0)  # otherwise reps after the first hit libvips' op cache

        def vips_pipeline():
            images = [pyvips.Image.new_from_buffer(b, "", access="sequential") for b in blobs]
            grid = pyvips.Image.arrayjoin(images, across=2)
            return grid.jpegsave_buffer(Q=q, subsample_mode="on")

        vips_bytes = len(vips_pipeline())
        rows.append((f"pyvips {pyvips.version(0)}.{pyvips.version(1)}", "decode4+compose+jpeg",
                     vips_pipeline))
    except ImportError:
        print("pyvips not importable; skipped (pip install pyvips pyvips-binary)")

    import PIL

    sizes = [len(b) for b in blobs]
    print(f"inputs: {', '.join(os.path.basename(p) for p in paths)} ({sizes} bytes)")
    print(f"Pillow {PIL.__version__}; {args.reps} reps after 1 warm-up; JPEG q{q} 4:2:0")
    print(f"{'implementation':<16} {'operation':<22} {'median ms':>10} {'min ms':>8}")
    for impl, op, fn in rows:
        if not re.search(args.only, f"{impl} {op}"):
            continue
        med, lo = median_ms(fn, args.reps)
        print(f"{impl:<16} {op:<22} {med:>10.2f} {lo:>8.2f}")
    print(f"grid {grid.size[0]}x{grid.size[1]} JPEG bytes: pillow {grid_bytes}"
          + (f", pyvips {vips_bytes}" if vips_bytes is not None else ""))
    pool.shutdown()


if __name__ == "__main__":
    main()
