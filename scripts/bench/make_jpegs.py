#!/usr/bin/python3
"""make_jpegs.py OUT N [CLASSES]: write N realistic 500x375 quality-90 JPEGs
into an ImageFolder OUT/<class>/<i>.jpg for the data-pipeline benchmark.

JPEG decode time depends on content, so the images are real photographs
found on this machine (random crops, scales, flips and colour shifts of
them); only where none exist does it fall back to natural-looking synthetic
content (smoothed noise at several scales plus edges). Seeded: the same
arguments give the same files.
"""
import glob, os, random, sys
import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

W, H, Q = 500, 375, 90


def photos():
    pats = ["/root/go/pkg/mod/github.com/sugarme/gotch@*/example/**/*.jpg",
            "/usr/share/**/*.jpg", "/usr/share/**/*.jpeg"]
    found = []
    for p in pats:
        for f in glob.glob(p, recursive=True):
            try:
                if os.path.getsize(f) < 30_000:
                    continue
                im = Image.open(f)
                if min(im.size) >= 300 and "transformed" not in f and "out" not in os.path.basename(f):
                    found.append(f)
            except Exception:
                pass
    return sorted(set(found))


def synthetic(rng):
    img = np.zeros((H, W, 3), np.float32)
    for s in (4, 16, 64):
        small = rng.random((H // s + 2, W // s + 2, 3)).astype(np.float32)
        up = np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize((W + 2 * s, H + 2 * s), Image.BICUBIC))
        img += up[:H, :W].astype(np.float32) / 3
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).filter(ImageFilter.DETAIL)


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    classes = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    rng = np.random.default_rng(0)
    r = random.Random(0)
    srcs = [Image.open(f).convert("RGB") for f in photos()]
    print(f"make_jpegs: {len(srcs)} source photos", file=sys.stderr)
    for i in range(n):
        if srcs:
            im = srcs[i % len(srcs)]
            s = r.uniform(0.5, 1.0)
            cw, ch = int(im.width * s), int(im.width * s * H / W)
            if ch > im.height:
                ch, cw = im.height, int(im.height * W / H)
            x, y = r.randint(0, im.width - cw), r.randint(0, im.height - ch)
            img = im.crop((x, y, x + cw, y + ch)).resize((W, H), Image.BICUBIC)
            if r.random() < 0.5:
                img = img.transpose(Image.FLIP_LEFT_RIGHT)
            img = ImageEnhance.Color(img).enhance(r.uniform(0.7, 1.3))
            img = ImageEnhance.Brightness(img).enhance(r.uniform(0.8, 1.2))
        else:
            img = synthetic(rng)
        d = os.path.join(out, f"class{i % classes:02d}")
        os.makedirs(d, exist_ok=True)
        img.save(os.path.join(d, f"{i:05d}.jpg"), quality=Q)


if __name__ == "__main__":
    main()
