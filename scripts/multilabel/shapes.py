"""Writes a small multi-label data set: OUT/img/NNNN.png (32x32, a red square,
a green disc and/or a blue bar on a dark background) and OUT/labels.csv
(fname, tags separated by spaces, is_valid: every 4th image).
Usage: python3 shapes.py OUT N  (seeded: the same files every time)"""
import random, os, sys
from PIL import Image, ImageDraw
out = sys.argv[1]; n = int(sys.argv[2])
random.seed(1)
os.makedirs(out + "/img", exist_ok=True)
rows = []
for i in range(n):
    im = Image.new("RGB", (32, 32), (random.randint(0, 60),) * 3)
    d = ImageDraw.Draw(im)
    tags = []
    while not tags:
        if random.random() < 0.5:
            x, y = random.randint(0, 14), random.randint(0, 14); d.rectangle([x, y, x + 12, y + 12], fill=(230, 30, 30)); tags.append("red")
        if random.random() < 0.5:
            x, y = random.randint(0, 18), random.randint(0, 18); d.ellipse([x, y, x + 12, y + 12], fill=(30, 220, 30)); tags.append("green")
        if random.random() < 0.4:
            y = random.randint(0, 26); d.rectangle([0, y, 31, y + 4], fill=(40, 40, 240)); tags.append("blue")
        if not tags:
            im = Image.new("RGB", (32, 32), (random.randint(0, 60),) * 3); d = ImageDraw.Draw(im)
    name = f"img/{i:04d}.png"; im.save(out + "/" + name)
    rows.append((name, " ".join(tags), "true" if i % 4 == 0 else "false"))
with open(out + "/labels.csv", "w") as f:
    f.write("fname,tags,is_valid\n")
    for r in rows: f.write(",".join(r) + "\n")
