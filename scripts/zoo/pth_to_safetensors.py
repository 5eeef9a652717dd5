#!/usr/bin/python3
"""Write a torchvision state dict (.pth) as a safetensors file, as timm's
Hub repositories hold them, for gtl's hf-hub tests.

    pth_to_safetensors.py IN.pth OUT.safetensors [--drop-num-batches-tracked]

Written by hand from the format's specification (an 8-byte little-endian
header length, a JSON header of dtype/shape/data_offsets, the raw
little-endian data), since Debian has no python3-safetensors; independent
of gtl's own writer. --drop-num-batches-tracked leaves out the batch norms'
counters, as some exported state dicts do.
"""
import json
import struct
import sys

import torch

DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.float16: "F16", torch.float64: "F64"}


def main(src, dst, drop):
    state = torch.load(src, map_location="cpu")
    header, blobs, off = {}, [], 0
    for k in sorted(state):
        if drop and k.endswith("num_batches_tracked"):
            continue
        t = state[k].contiguous()
        b = t.numpy().tobytes()
        header[k] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], "--drop-num-batches-tracked" in sys.argv[3:])
