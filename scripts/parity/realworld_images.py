"""Images as cameras, phones and the web write them, for gtl's tests (issue 10).

Run with Debian's /usr/bin/python3 (python3-pil, python3-numpy):

  realworld_images.py DIR

writes into DIR images of a seeded 61x43 pattern in many forms, and for
each NAME.EXT the pixels PIL gives as NAME.EXT.npy (uint8 [H, W, 3]):
Image.open(f).convert("RGB"), and for the EXIF-oriented files also
NAME.EXT.transposed.npy, ImageOps.exif_transpose(Image.open(f)).convert("RGB").
"""
import io
import os
import sys

import numpy as np
from PIL import Image, ImageOps


def pattern(w=61, h=43, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], axis=-1)
    noise = rng.integers(0, 40, size=(h, w, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def main(out):
    rgb = Image.fromarray(pattern())
    files = {}
    files["cmyk.jpg"] = (rgb.convert("CMYK"), dict(format="JPEG", quality=90))
    files["cmyk-q60.jpeg"] = (rgb.convert("CMYK"), dict(format="JPEG", quality=60))
    files["photo.bmp"] = (rgb, dict(format="BMP"))
    files["grey.bmp"] = (rgb.convert("L"), dict(format="BMP"))
    files["photo.tif"] = (rgb, dict(format="TIFF"))
    files["deflate.TIFF"] = (rgb, dict(format="TIFF", compression="tiff_adobe_deflate"))
    files["lossless.webp"] = (rgb, dict(format="WEBP", lossless=True))
    files["lossy.webp"] = (rgb, dict(format="WEBP", quality=80))
    files["alpha.webp"] = (rgb.convert("RGBA"), dict(format="WEBP", lossless=True))
    files["palette.gif"] = (rgb.convert("P", palette=Image.ADAPTIVE, colors=64), dict(format="GIF"))
    frames = [rgb.convert("P", palette=Image.ADAPTIVE, colors=32), rgb.rotate(180).convert("P", palette=Image.ADAPTIVE, colors=32)]
    files["grey.png"] = (rgb.convert("L"), dict(format="PNG"))
    files["palette.png"] = (rgb.convert("P", palette=Image.ADAPTIVE, colors=50), dict(format="PNG"))
    rgba = rgb.convert("RGBA")
    a = np.asarray(rgba).copy()
    a[..., 3] = np.arange(a.shape[1], dtype=np.uint8)[None, :] * 4
    files["alpha.png"] = (Image.fromarray(a, "RGBA"), dict(format="PNG"))
    files["grey-alpha.png"] = (Image.fromarray(a, "RGBA").convert("LA"), dict(format="PNG"))
    files["png-named.JPG"] = (rgb, dict(format="PNG"))  # the extension lies: the bytes decide
    for name, (img, kw) in files.items():
        path = os.path.join(out, name)
        img.save(path, **kw)
        ref = np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)
        np.save(path + ".npy", ref)
    # An animated GIF: the first frame counts.
    path = os.path.join(out, "animated.gif")
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    np.save(path + ".npy", np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8))
    # 16-bit RGB PNG (PIL reads its high bytes).
    path = os.path.join(out, "rgb16.png")
    p16 = pattern().astype(np.uint16) * 257 + 3
    import zlib, struct
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in p16)
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", p16.shape[1], p16.shape[0], 16, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    open(path, "wb").write(png)
    np.save(path + ".npy", np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8))
    # EXIF orientations 1..8, on a JPEG, a PNG and a WebP, as a camera tags them.
    for o in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = o
        for ext, kw in [("jpg", dict(format="JPEG", quality=92)), ("png", dict(format="PNG")), ("webp", dict(format="WEBP", lossless=True))]:
            path = os.path.join(out, "orient%d.%s" % (o, ext))
            rgb.save(path, exif=exif.tobytes(), **kw)
            im = Image.open(path)
            np.save(path + ".npy", np.asarray(im.convert("RGB"), dtype=np.uint8))
            np.save(path + ".transposed.npy", np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"), dtype=np.uint8))


if __name__ == "__main__":
    main(sys.argv[1])
