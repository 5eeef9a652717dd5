#!/usr/bin/python3
"""Reference side of gtl's weights-file tests (vision/*_test.go).

Debian's python3-torch 1.13 (scripts/parity/setup.sh installs it): run with
/usr/bin/python3. Debian 12 has no python3-safetensors, so safetensors files
are read and written here with json + numpy, after the format's spec: an
8-byte little-endian header length N, N bytes of JSON
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {}},
then the little-endian data (offsets relative to it).

  weights_io.py dump FILE pth|safetensors
      print {name: {"dtype", "shape", "values", "contiguous"}} of the
      tensors in FILE (a .pth through torch.load(weights_only=True)) as JSON
  weights_io.py save FILE zip|legacy|safetensors
      write the reference state dict to FILE (torch.save's zip or legacy
      format, or safetensors written here) and print its dump
  weights_io.py torchvision FILE ARCH NUM_CLASSES
      load FILE strictly into torchvision's ARCH and print
      {name: [dtype, shape, sum, sum of squares]} of the model's state dict
  weights_io.py logits FILE pth|safetensors ARCH NUM_CLASSES INPUT.npy OUT.npy
      load FILE strictly into torchvision's ARCH (what a PyTorch user of a
      gtl checkpoint does) and save its eval-mode logits for INPUT.npy
"""

import collections
import json
import struct
import sys

import numpy as np
import torch

# safetensors dtype <-> torch dtype, numpy dtype (None: through uint16 bits)
DTYPES = {
    "F64": (torch.float64, np.float64),
    "F32": (torch.float32, np.float32),
    "F16": (torch.float16, np.float16),
    "BF16": (torch.bfloat16, None),
    "I64": (torch.int64, np.int64),
    "I32": (torch.int32, np.int32),
    "I16": (torch.int16, np.int16),
    "I8": (torch.int8, np.int8),
    "U8": (torch.uint8, np.uint8),
    "BOOL": (torch.bool, np.bool_),
}
ST_OF_TORCH = {t: k for k, (t, _) in DTYPES.items()}
ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def reference_state_dict():
    """Mixed dtypes, a 0-dim int64 over 2**32, a non-contiguous tensor and
    two views of one storage (one with a storage offset)."""
    sd = collections.OrderedDict()
    sd["conv.weight"] = torch.arange(24, dtype=torch.float32).reshape(2, 3, 2, 2) / 8 - 1
    sd["bn.running_var"] = torch.tensor([0.25, 1.5, 3.0], dtype=torch.float64)
    sd["bn.num_batches_tracked"] = torch.tensor(12345678901, dtype=torch.int64)
    sd["scalar"] = torch.tensor(-2.5, dtype=torch.float32)
    sd["half"] = torch.tensor([[0.5, -1.0], [2.0, 65504.0]], dtype=torch.float16)
    sd["bf16"] = torch.tensor([1.0, -0.5, 3.0e38], dtype=torch.bfloat16)
    sd["i32"] = torch.tensor([-2147483648, -1, 0, 2147483647], dtype=torch.int32)
    sd["i16"] = torch.tensor([[-32768, 7], [0, 32767]], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 0, 127], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 1, 128, 255], dtype=torch.uint8)
    sd["mask"] = torch.tensor([[True, False, True], [False, False, True]])
    sd["empty"] = torch.zeros(0, 3)
    sd["fc.weight_t"] = (torch.arange(6, dtype=torch.float32).reshape(2, 3) - 2).t()
    base = torch.arange(8, dtype=torch.float32).reshape(2, 4)
    sd["shared.a"] = base[0]
    sd["shared.b"] = base[1]
    # as Module.state_dict() has it (pickled with BUILD)
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("bn", {"version": 2})])
    return sd


def dump(sd):
    out = {}
    for k, t in sd.items():
        if not isinstance(t, torch.Tensor):
            raise SystemExit(f"{k}: {type(t).__name__}, not a tensor")
        out[k] = {
            "dtype": ST_OF_TORCH[t.dtype],
            "shape": list(t.shape),
            "values": t.detach().double().flatten().tolist(),
            "contiguous": t.is_contiguous(),
        }
    return out


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    if 8 + n > len(buf):
        raise SystemExit(f"{path}: header length {n} beyond the file")
    if n % 8 != 0:
        raise SystemExit(f"{path}: header length {n} not padded to a multiple of 8")
    header = json.loads(buf[8 : 8 + n].decode("utf-8"))
    data = buf[8 + n :]
    meta = header.pop("__metadata__", None)
    sd = collections.OrderedDict()
    end_prev = 0
    for k, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, en = e["data_offsets"]
        if b < end_prev:
            raise SystemExit(f"{path}: {k}: overlapping offsets")
        end_prev = en
        count = int(np.prod(e["shape"], dtype=np.int64))
        if en - b != count * ITEMSIZE[e["dtype"]]:
            raise SystemExit(f"{path}: {k}: {en - b} bytes for shape {e['shape']} {e['dtype']}")
        tdt, ndt = DTYPES[e["dtype"]]
        raw = data[b:en]
        if ndt is None:  # bfloat16: the upper half of a float32
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = torch.from_numpy(bits.view(np.float32).copy()).to(tdt)
        else:
            arr = torch.from_numpy(np.frombuffer(raw, dtype=np.dtype(ndt).newbyteorder("<")).copy())
        sd[k] = arr.reshape(e["shape"])
    return collections.OrderedDict(sorted(sd.items())), meta


def write_safetensors(path, sd, meta):
    # As the reference writer: by alignment (dtype size, descending), then name.
    order = sorted(sd, key=lambda k: (-ITEMSIZE[ST_OF_TORCH[sd[k].dtype]], k))
    header, chunks, off = {}, [], 0
    if meta:
        header["__metadata__"] = meta
    for k in order:
        t = sd[k].contiguous()
        st = ST_OF_TORCH[t.dtype]
        if t.dtype == torch.bfloat16:
            raw = (t.float().numpy().view(np.uint32) >> 16).astype("<u2").tobytes()
        else:
            raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[k] = {"dtype": st, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * (-len(hb) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for c in chunks:
            f.write(c)


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "dump" and len(argv) == 4:
        path, fmt = argv[2], argv[3]
        if fmt == "pth":
            sd = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(sd, collections.OrderedDict):
                raise SystemExit(f"{path}: {type(sd).__name__}, want an OrderedDict")
            print(json.dumps({"tensors": dump(sd)}))
        elif fmt == "safetensors":
            sd, meta = read_safetensors(path)
            print(json.dumps({"tensors": dump(sd), "metadata": meta}))
        else:
            raise SystemExit(f"unknown format {fmt}")
    elif cmd == "save" and len(argv) == 4:
        path, fmt = argv[2], argv[3]
        sd = reference_state_dict()
        if fmt == "zip":
            torch.save(sd, path)
        elif fmt == "legacy":
            torch.save(sd, path, _use_new_zipfile_serialization=False)
        elif fmt == "safetensors":
            write_safetensors(path, sd, {"format": "pt", "source": "weights_io.py"})
        else:
            raise SystemExit(f"unknown format {fmt}")
        print(json.dumps({"tensors": dump(sd)}))
    elif cmd == "torchvision" and len(argv) == 5:
        import torchvision

        path, arch, classes = argv[2], argv[3], int(argv[4])
        model = torchvision.models.__dict__[arch](weights=None, num_classes=classes)
        sd = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(sd, strict=True)
        out = {}
        for k, t in model.state_dict().items():
            d = t.double()
            out[k] = [ST_OF_TORCH[t.dtype], list(t.shape), d.sum().item(), (d * d).sum().item()]
        print(json.dumps(out))
    elif cmd == "logits" and len(argv) == 8:
        import numpy
        import torchvision

        path, fmt, arch, classes, inp, out = argv[2], argv[3], argv[4], int(argv[5]), argv[6], argv[7]
        model = torchvision.models.__dict__[arch](weights=None, num_classes=classes)
        if fmt == "pth":
            sd = torch.load(path, map_location="cpu", weights_only=True)
        else:
            sd, _ = read_safetensors(path)
        model.load_state_dict(sd, strict=True)
        model.eval()
        with torch.no_grad():
            y = model(torch.from_numpy(numpy.load(inp)))
        numpy.save(out, y.numpy())
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
