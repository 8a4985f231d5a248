#!/usr/bin/python3
"""Make the sample images in this directory from scikit-image's sample data.

Run with Debian's python3-skimage and python3-pil installed (scikit-image
0.19.3, Pillow 9.4.0 when these files were made):

    /usr/bin/python3 testdata/images/make_samples.py

The sources and their licences are in SOURCES.md. The output is deterministic
for a given Pillow/libjpeg version.
"""

import os
import struct
import zlib

import numpy as np
from PIL import Image

SKDATA = "/usr/lib/python3/dist-packages/skimage/data"
HERE = os.path.dirname(os.path.abspath(__file__))


def out(name):
    return os.path.join(HERE, name)


def plain(path):
    return Image.fromarray(np.asarray(Image.open(path).convert("RGB")), "RGB")


def png16(path, rgb16):
    """Write a 16-bit RGB PNG, which Pillow cannot write from an array."""
    h, w, _ = rgb16.shape
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in rgb16)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def main():
    # Through numpy, so that no metadata (ICC profile, comments) is copied.
    chelsea = plain(os.path.join(SKDATA, "chelsea.png"))
    coffee = plain(os.path.join(SKDATA, "coffee.png"))
    rocket = plain(os.path.join(SKDATA, "rocket.jpg"))

    # A colour JPEG photograph (4:2:0 chroma, baseline).
    chelsea.save(out("chelsea.jpg"), quality=90)

    # A greyscale JPEG photograph.
    rocket.convert("L").save(out("rocket_gray.jpg"), quality=85)

    # An RGBA PNG: coffee at half size with an elliptical vignette in alpha,
    # fully transparent in the corners. The colour under alpha 0 is kept as it
    # was, so a decoder that drops alpha sees the whole photograph.
    small = coffee.resize((300, 200), Image.LANCZOS)
    h, w = 200, 300
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.sqrt(((xx - (w - 1) / 2) / (w / 2)) ** 2 + ((yy - (h - 1) / 2) / (h / 2)) ** 2)
    alpha = np.clip((1.1 - r) / 0.3, 0, 1) * 255
    rgba = np.dstack([np.asarray(small), alpha.round().astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(out("coffee_rgba.png"), optimize=True)

    # Tiny seeds for the fuzz test: one file per decoder path.
    tiny = chelsea.crop((180, 90, 204, 106))  # 24x16, part of the cat's face
    tiny.save(out("small/tiny.jpg"), quality=75)
    tiny.save(out("small/tiny444.jpg"), quality=75, subsampling=0)
    tiny.save(out("small/tiny_progressive.jpg"), quality=75, progressive=True)
    tiny.convert("L").save(out("small/tiny_gray.jpg"), quality=75)
    tiny.convert("CMYK").save(out("small/tiny_cmyk.jpg"), quality=75)
    tiny.save(out("small/tiny.png"))
    tiny.convert("L").save(out("small/tiny_gray.png"))
    tiny.convert("LA").save(out("small/tiny_gray_alpha.png"))
    t = np.asarray(tiny)
    a = np.tile(np.linspace(0, 255, 24).round().astype(np.uint8), (16, 1))
    Image.fromarray(np.dstack([t, a]), "RGBA").save(out("small/tiny_rgba.png"))
    # 16 bits per channel, low byte varying so that it matters.
    png16(out("small/tiny16.png"), t.astype(np.uint16) * 256 + np.arange(24, dtype=np.uint16)[None, :, None] * 10)
    pal = tiny.convert("P", palette=Image.ADAPTIVE, colors=16)
    pal.info["transparency"] = 0
    pal.save(out("small/tiny_pal.png"), transparency=0)
    frame2 = tiny.transpose(Image.FLIP_LEFT_RIGHT).convert("P", palette=Image.ADAPTIVE, colors=16)
    pal.save(out("small/tiny.gif"), save_all=True, append_images=[frame2], duration=100, loop=0)


if __name__ == "__main__":
    main()
