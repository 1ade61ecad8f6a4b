#!/usr/bin/env python3
"""Writes four deterministic, photo-like 1024x1024 PNG tiles for the grid benchmark.

Each tile is a procedural landscape: sky gradient with a sun glow, fractal value-noise
clouds, three textured hill layers, a vignette and Gaussian noise (sigma 2.5). The noise
matters: flat colours make PNG decoding unrealistically fast. Tiles are saved with
Pillow's defaults (zlib level 6), as a Python backend (A1111, ComfyUI) would return them;
each is about 1.5 MB, close to a typical 1024^2 diffusion PNG.

The same files feed both sides of the comparison: `bench/pillow_grid.py DIR` and
`EASEL_GRID_INPUTS=DIR cargo bench --bench grid` (bench/grid_compare.sh runs all three).

Usage: python3 bench/gen_grid_inputs.py OUT_DIR [--size 1024] [--height H] [--seed 1]
Needs: pip install pillow numpy
"""

import argparse
import os

import numpy as np
from PIL import Image


def value_noise(rng, h, w, cells_y, cells_x):
    """Smoothstep-interpolated value noise on a (cells_y x cells_x) lattice, in [0, 1)."""
    lattice = rng.random((cells_y + 2, cells_x + 2), dtype=np.float32)
    y = np.arange(h, dtype=np.float32) * (cells_y / h)
    x = np.arange(w, dtype=np.float32) * (cells_x / w)
    yi, xi = y.astype(np.int64), x.astype(np.int64)
    ty, tx = y - yi, x - xi
    sy = (ty * ty * (3 - 2 * ty))[:, None]
    sx = (tx * tx * (3 - 2 * tx))[None, :]
    rows0, rows1 = lattice[yi], lattice[yi + 1]
    top = rows0[:, xi] + (rows0[:, xi + 1] - rows0[:, xi]) * sx
    bottom = rows1[:, xi] + (rows1[:, xi + 1] - rows1[:, xi]) * sx
    return top + (bottom - top) * sy


def fbm(rng, h, w, cells_y, cells_x, octaves):
    """Fractal sum of value-noise octaves (gain 0.5, lacunarity 2), normalised to [0, 1)."""
    total = np.zeros((h, w), dtype=np.float32)
    amp, norm = 0.5, 0.0
    for octave in range(octaves):
        f = 2**octave
        total += amp * value_noise(rng, h, w, cells_y * f, cells_x * f)
        norm += amp
        amp *= 0.5
    return total / norm


def ridge_line(rng, w, cells, octaves):
    """1-D fractal noise along x, for hill silhouettes."""
    return fbm(rng, 1, w, 1, cells, octaves)[0]


def synth(seed, w, h):
    rng = np.random.default_rng(seed)
    hue = (seed % 4) / 4.0
    y = (np.arange(h, dtype=np.float32) / h)[:, None, None]
    x = (np.arange(w, dtype=np.float32) / w)[None, :, None]

    zenith = np.array([30 + 40 * hue, 70 + 20 * hue, 150 - 30 * hue], dtype=np.float32)
    horizon = np.array([230 - 20 * hue, 190 + 20 * hue, 160 + 30 * hue], dtype=np.float32)
    img = zenith + (horizon - zenith) * y  # (h, 1, 3) broadcast below
    img = np.broadcast_to(img, (h, w, 3)).copy()

    sun_x, sun_y = 0.2 + 0.6 * rng.random(), 0.25 + 0.15 * rng.random()
    glow = np.exp(-np.sqrt((x - sun_x) ** 2 + (y - sun_y) ** 2) * 9.0) * 0.9
    img += (np.array([255, 245, 210], dtype=np.float32) - img) * glow

    clouds = np.clip((fbm(rng, h, w, 14, 6, 5) - 0.45) * 2.2, 0, None)[:, :, None] * (1 - y)
    img += (np.array([250, 250, 252], dtype=np.float32) - img) * np.minimum(clouds, 0.85)

    hills = [([110, 120, 140], 0.55, 3), ([70, 110, 70], 0.68, 5), ([40, 70, 35], 0.82, 8)]
    ys = y[:, :, 0]
    for colour, base, freq in hills:
        ridge = base - 0.12 * ridge_line(rng, w, freq, 4)[None, :]
        texture = fbm(rng, h, w, freq * 12, freq * 12, 3)
        shade = 0.75 + 0.5 * texture - 0.25 * (ys - ridge)
        below = ys > ridge
        img[below] = (np.array(colour, dtype=np.float32)[None, :] * shade[below][:, None])

    vignette = 1 - 0.35 * ((x - 0.5) ** 2 + (y - 0.5) ** 2)
    img = img * vignette + rng.normal(0.0, 2.5, (h, w, 3)).astype(np.float32)
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "RGB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--size", type=int, default=1024, help="tile width (and height)")
    ap.add_argument("--height", type=int, default=None, help="tile height if not square")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    w, h = args.size, args.height or args.size
    os.makedirs(args.out_dir, exist_ok=True)
    for i in range(4):
        path = os.path.join(args.out_dir, f"tile{i}.png")
        synth(args.seed * 100 + i, w, h).save(path)  # Pillow default: zlib level 6
        print(f"{path}: {w}x{h}, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
