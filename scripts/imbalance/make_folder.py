#!/usr/bin/env python3
"""Writes a 1:20 imbalanced image folder from Debian's Fashion-MNIST
(dataset-fashion-mnist): train/ holds 200 T-shirts, 200 trousers and 10
shirts (the first of each class in the training split), val/ 100 of each
from the test split (balanced, so that accuracy there is the macro recall).
Usage: make_folder.py OUT"""
import gzip, os, sys

import numpy as np
from PIL import Image

root = sys.argv[1]
src = os.environ.get("GTL_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist") + "/"


def load(split):
    im = np.frombuffer(gzip.open(src + split + "-images-idx3-ubyte.gz").read(), np.uint8, offset=16).reshape(-1, 28, 28)
    lb = np.frombuffer(gzip.open(src + split + "-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)
    return im, lb


classes = {0: "tshirt", 1: "trouser", 6: "shirt"}
for split, sub, counts in [("train", "train", {0: 200, 1: 200, 6: 10}), ("t10k", "val", {0: 100, 1: 100, 6: 100})]:
    im, lb = load(split)
    for c, name in classes.items():
        os.makedirs(os.path.join(root, sub, name), exist_ok=True)
        for i in np.nonzero(lb == c)[0][: counts[c]]:
            Image.fromarray(im[i]).save(os.path.join(root, sub, name, "%05d.png" % i))
