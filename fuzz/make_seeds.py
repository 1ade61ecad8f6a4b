#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/: prompts, button custom_ids and tiny
images. Run from anywhere: `python3 fuzz/make_seeds.py` (needs Pillow with WebP support).
Every file is small (< 2 KB) so the committed corpus stays light; libFuzzer's discoveries go
to fuzz/work/, which is not committed. Re-running overwrites the seeds with equivalent files
(byte-exact only for the text seeds: image encoders differ between Pillow versions)."""

import io
import pathlib
import struct
import zlib

from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"

PROMPTS = [
    # Plain text and every parameter under its usual spelling.
    "a red bird",
    "a cat --ar 16:9",
    "a cat --aspect 2:3",
    "a cat --seed 1234",
    "a cat --seed 4294967295",
    "a cat --no text, blur, watermark",
    "a cat --chaos 50",
    "a cat --c 0",
    "a cat --stylize 250",
    "a cat --s 1000",
    "a cat --quality .25",
    "a cat --q 4",
    "a cat --weird 500",
    "a cat --w 3000",
    "a cat --tile",
    "a cat --style raw",
    "a cat --raw",
    "a cat --stop 10",
    "a cat --v 6.1",
    "a cat --version 5.2a",
    "a cat --niji",
    "a cat --niji 6",
    "https://x.example/a.png a cat --iw 1.5",
    "<https://x.example/a.png> http://y.example/b.jpg two images blended --iw 0",
    # Everything at once, in canonical order and shuffled with aliases and dashes.
    "https://x.example/a.png a bird::2 in a tree::-0.5 --ar 3:2 --seed 7 --no a, b --chaos 5 "
    "--stylize 100 --quality 1 --weird 10 --tile --style raw --stop 50 --v 6.1 --iw 1.5",
    "a bird —ar 7:4 –seed 9 --Q 2 --S 5 --C 100 --W 0 --RAW --niji 5 --NO x,y",
    # Permutations: simple, several, nested, escaped, empty, around values and flags.
    "a {red, blue} bird --ar 3:2",
    "{a, b} {1, 2}",
    "a {big {red, blue}, small} bird",
    "{cat\\, dog, bird} --seed 1",
    "a {, red} bird",
    "a {} bird",
    "a{ red , blue }bird",
    "a cat --ar {1:1, 2:3}",
    "a cat {, --tile}",
    "a cat {--c 1, --c 2}",
    "a cat --stop {10, 100}",
    "{{{{{{a}}}}}}",
    # Near misses and refusals: each reaches a different error.
    "a cat --chaos 150",
    "a cat --chaos 5.5",
    "a cat --chaos 1e2",
    "a cat --seed 99999999999999999999999",
    "a cat --q 3",
    "a cat --q nan",
    "a cat --iw -0",
    "a cat --iw inf",
    "a cat --ar 0:3",
    "a cat --ar 5:1",
    "a cat --ar 16/9",
    "a cat --style cute",
    "a cat --v 6!",
    "a cat --v 6 --niji 5",
    "a cat --c 1 --chaos 2",
    "a cat --tile more text",
    "a cat --foo",
    "a cat --no",
    "a cat --seed",
    "--ar 1:1 a cat",
    "https://x.example/a.png --tile",
    "a {red, blue",
    "a red} bird",
    "{a,b}{a,b}{a,b}{a,b}",
    "a - ish — dash -5 -ish",
    "日本 🎨 é `code`",
    "   \t\n  ",
    "",
    # Today's parameters (appended so the earlier seeds keep their file names): references
    # with weights and versions, personalization, modes, style codes, repeats and refusals.
    "a cat --v 7 --sref https://x.example/s.png::2 2530475463 random --sw 300 --sv 6",
    "a cat --niji 7 --cref <https://x.example/c.png> --cw 50",
    "a cat --oref https://x.example/o.png --ow 400 --exp 25 --draft",
    "a cat --p --relax",
    "a cat --personalize lb4pqzw m7216867 --turbo",
    "a cat --style cute --fast",
    "a cat --style raw-1Rh7c7Gd9CYkI --v 8.1 --q 4",
    "a {red, blue} cat --repeat 2",
    "a cat {--r 2, --r 3}",
    "a cat --r 41",
    "a cat --sref watercolor",
    "a cat --sref 1::1e99 <<https://x.example/s.png::2>>",
    "a cat --oref https://x.example/1.png https://x.example/2.png",
    "a cat --fast --relax",
    "a cat --style cute --raw",
    "a cat --video --motion high",
]

# Inputs that once failed a fuzz target, kept as seeds so every run re-checks them (the
# regression unit tests beside the code hold the same inputs; see RELIABILITY.md).
PROMPT_REGRESSIONS = {
    "crash_no_list_flag": "a cat --no :te,--no ",
    "crash_no_list_flag_min": "c --no ,--n",
}

CUSTOM_IDS = [
    # Every action in canonical form.
    "e1:u:42:0",
    "e1:u:1:3",
    "e1:vx:7:1",
    "e1:vs:9223372036854775807:2",
    "e1:r:5:0",
    "e1:d:77:3",
    # Refused: foreign, wrong shape, out of range, not canonical.
    "",
    "e2:u:1:0",
    "MJ::JOB::upsample::1::abc",
    "e1:u:1",
    "e1:u:1:4",
    "e1:u:0:0",
    "e1:u:-1:0",
    "e1:u:007:0",
    "e1:u:+7:0",
    "e1:r:5:2",
    "e1:x:1:0",
    "e1:u:1:0:extra",
    "e1:u:99999999999999999999:0",
]


def picture(w, h, mode="RGB"):
    img = Image.new("RGB", (w, h))
    img.putdata([((x * 37) % 256, (y * 59) % 256, ((x + y) * 17) % 256) for y in range(h) for x in range(w)])
    if mode == "RGBA":
        img.putalpha(Image.linear_gradient("L").resize((w, h)))
    elif mode != "RGB":
        img = img.convert(mode)
    return img


def save(img, fmt, **opts):
    buf = io.BytesIO()
    img.save(buf, fmt, **opts)
    return buf.getvalue()


def exif_orientation(value):
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(w, h, depth=8, colour=2):
    """A PNG whose IHDR claims w×h but whose IDAT is one empty row: exercises the limits."""
    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + png_chunk(b"IEND", b"")
    )


def images():
    out = {}
    small = picture(8, 8)
    out["png_rgb"] = save(small, "PNG")
    out["png_rgba"] = save(picture(8, 8, "RGBA"), "PNG")
    out["png_grey"] = save(picture(8, 8, "L"), "PNG")
    out["png_grey_alpha"] = save(picture(8, 8, "LA"), "PNG")
    out["png_palette"] = save(picture(8, 8, "P"), "PNG")
    out["png_1bit"] = save(picture(8, 8, "1"), "PNG")
    out["png_16bit"] = save(picture(4, 4, "I;16"), "PNG")
    out["png_interlaced"] = save(small, "PNG", interlace=True)
    out["png_apng"] = save(small, "PNG", save_all=True, append_images=[picture(8, 8).rotate(90)], duration=100)
    out["png_header_8193x1"] = png_header_only(8193, 1)
    out["png_header_8192x8192_rgba16"] = png_header_only(8192, 8192, depth=16, colour=6)
    out["png_header_4096x4096"] = png_header_only(4096, 4096)
    out["jpeg_baseline"] = save(small, "JPEG", quality=80)
    out["jpeg_progressive"] = save(picture(16, 16), "JPEG", quality=50, progressive=True)
    out["jpeg_grey"] = save(picture(8, 8, "L"), "JPEG")
    out["jpeg_cmyk"] = save(picture(8, 8, "CMYK"), "JPEG")
    out["jpeg_444"] = save(small, "JPEG", subsampling=0)
    out["jpeg_exif_rotated"] = save(picture(16, 8), "JPEG", exif=exif_orientation(6))
    out["gif_still"] = save(small, "GIF")
    out["gif_animated"] = save(small, "GIF", save_all=True, append_images=[picture(8, 8).rotate(90)], duration=100, loop=0)
    out["gif_transparent"] = save(picture(8, 8, "P"), "GIF", transparency=0)
    out["webp_lossy"] = save(small, "WEBP", quality=50)
    out["webp_lossless"] = save(small, "WEBP", lossless=True)
    out["webp_alpha"] = save(picture(8, 8, "RGBA"), "WEBP", quality=50)
    out["webp_animated"] = save(small, "WEBP", save_all=True, append_images=[picture(8, 8).rotate(90)], duration=100)
    # Truncated files: cut mid-data, and a bare signature for each format.
    out["png_truncated"] = out["png_rgb"][: len(out["png_rgb"]) // 2]
    out["jpeg_truncated"] = out["jpeg_baseline"][: len(out["jpeg_baseline"]) * 2 // 3]
    out["gif_truncated"] = out["gif_still"][:40]
    out["webp_truncated"] = out["webp_lossy"][:30]
    out["png_signature_only"] = b"\x89PNG\r\n\x1a\n"
    out["jpeg_soi_only"] = b"\xff\xd8\xff"
    out["bmp_refused"] = save(small, "BMP")
    return out


def write(target, items):
    folder = ROOT / target
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in items.items():
        if isinstance(data, str):
            data = data.encode()
        assert len(data) < 2048, f"{target}/{name} is {len(data)} bytes"
        (folder / name).write_bytes(data)


write("prompt_parse", {f"prompt_{i:02}": p for i, p in enumerate(PROMPTS)} | PROMPT_REGRESSIONS)
write("custom_id", {f"id_{i:02}": c for i, c in enumerate(CUSTOM_IDS)})
write("image_decode", images())
