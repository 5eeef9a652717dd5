#!/usr/bin/python3
"""Weight-file layouts other tools write, for gtl's tests (issue 23).

Run with Debian's /usr/bin/python3 (python3-torch, python3-torchvision):

  layout_weights.py DIR [NAME...]

writes into DIR (only the NAMEs given, when any), from one seeded torchvision resnet18(num_classes=5) with
non-trivial batch-norm statistics ("plain"):

  plain.pth          torch.save(model.state_dict())
  p5.pth             the same with pickle_protocol=5 (Ray Train's torch.save)
  p5-legacy.pth      the same, legacy format, pickle protocol 5
  p5-extra.pth       protocol 5 with a bytearray and bytes beside the weights
                     (BYTEARRAY8, as a checkpoint's extra state)
  shared.pth         every tensor a view into one float32 storage (one
                     torch.cat of all tensors, then views), some transposed
                     back and forth so that they are not contiguous
  moco.pth           MoCo v2's checkpoint: {"epoch", "arch", "state_dict":
                     module.encoder_q.* and module.encoder_k.* (resnet18 with
                     a 2-layer MLP head fc.0/fc.2), module.queue,
                     module.queue_ptr, "optimizer"}
  backbone.pth       {"state_dict": backbone.* without fc} (mmselfsup)
  encoder.pth        encoder.* without fc, plain
  model-backbone.pth model.backbone.* with a projection head model.head.*
  script.pt          torch.jit.script(model).save(...) (TorchScript)
  nan.pth            plain with one NaN in layer1.0.bn1.running_var and an
                     Inf in fc.weight
  x.npy              a float32 input batch [2, 3, 64, 64]
  x-nan.npy          the same with one NaN
  logits.npy         plain's eval-mode logits on x.npy (torchvision)
  logits-nan.npy     nan.pth's eval-mode logits on x.npy (torchvision)
  logits-xnan.npy    plain's eval-mode logits on x-nan.npy (torchvision)
  features.npy       plain's penultimate features on x.npy (torchvision,
                     fc replaced by Identity)
"""
import collections
import os
import sys

import numpy as np
import torch
import torchvision


def prefixed(sd, prefix):
    return collections.OrderedDict((prefix + k, v) for k, v in sd.items())


def backbone(sd):
    return collections.OrderedDict((k, v) for k, v in sd.items() if not k.startswith("fc."))


def shared_views(sd):
    """The tensors of sd as views into one float32 storage (integer
    buffers kept apart: a storage has one dtype)."""
    floats = [(k, v) for k, v in sd.items() if v.dtype == torch.float32]
    big = torch.cat([v.reshape(-1) for _, v in floats])
    out, off = collections.OrderedDict(), 0
    for k, v in sd.items():
        if v.dtype != torch.float32:
            out[k] = v.clone()
            continue
        n = v.numel()
        view = big[off : off + n].view(v.shape)
        if v.dim() == 4 and v.shape[0] == v.shape[1]:
            # A non-contiguous view with the same values: the data stored
            # transposed, the tensor a transposed view of it.
            big[off : off + n].view(v.shape).copy_(v.transpose(0, 1))
            view = big[off : off + n].view(v.shape).transpose(0, 1)
        out[k] = view
        off += n
    return out


def main(out, only):
    real_save, real_npy = torch.save, np.save

    def wanted(path):
        return not only or os.path.basename(path) in only

    def save(obj, path, **kw):
        if wanted(path):
            real_save(obj, path, **kw)

    def npy(path, arr):
        if wanted(path):
            real_npy(path, arr)

    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=5).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
                m.num_batches_tracked.fill_(7)
    sd = collections.OrderedDict((k, v.clone()) for k, v in model.state_dict().items())

    save(sd, os.path.join(out, "plain.pth"))
    save(sd, os.path.join(out, "p5.pth"), pickle_protocol=5)
    save(sd, os.path.join(out, "p5-legacy.pth"), pickle_protocol=5, _use_new_zipfile_serialization=False)
    save({"model": sd, "extra": bytearray(b"\x00ray\x01"), "tag": b"bytes", "epoch": 3},
               os.path.join(out, "p5-extra.pth"), pickle_protocol=5)

    if wanted("script.pt"):
        torch.jit.script(model).save(os.path.join(out, "script.pt"))

    sh = shared_views(sd)
    for k in sd:
        assert torch.equal(sh[k], sd[k]), k
    assert any(not v.is_contiguous() for v in sh.values())
    save(sh, os.path.join(out, "shared.pth"))

    torch.manual_seed(1)
    mlp = collections.OrderedDict([
        ("fc.0.weight", torch.randn(512, 512)), ("fc.0.bias", torch.randn(512)),
        ("fc.2.weight", torch.randn(128, 512)), ("fc.2.bias", torch.randn(128)),
    ])
    enc_q = collections.OrderedDict(list(backbone(sd).items()) + list(mlp.items()))
    enc_k = collections.OrderedDict((k, v + 0.01) if v.is_floating_point() else (k, v) for k, v in enc_q.items())
    moco = collections.OrderedDict(list(prefixed(enc_q, "module.encoder_q.").items()) +
                                   list(prefixed(enc_k, "module.encoder_k.").items()))
    moco["module.queue"] = torch.randn(128, 4096)
    moco["module.queue_ptr"] = torch.zeros(1, dtype=torch.long)
    save({"epoch": 200, "arch": "resnet18", "state_dict": moco,
                "optimizer": {"state": {}, "param_groups": [{"lr": 0.03, "params": [0, 1]}]}},
               os.path.join(out, "moco.pth"))
    save({"meta": {"epoch": 100}, "state_dict": prefixed(backbone(sd), "backbone.")},
               os.path.join(out, "backbone.pth"))
    save(prefixed(backbone(sd), "encoder."), os.path.join(out, "encoder.pth"))
    mb = prefixed(backbone(sd), "model.backbone.")
    mb["model.head.weight"] = torch.randn(128, 512)
    mb["model.head.bias"] = torch.randn(128)
    save(mb, os.path.join(out, "model-backbone.pth"))

    bad = collections.OrderedDict((k, v.clone()) for k, v in sd.items())
    bad["layer1.0.bn1.running_var"][3] = float("nan")
    bad["fc.weight"][1, 2] = float("inf")
    save(bad, os.path.join(out, "nan.pth"))

    torch.manual_seed(2)
    x = torch.randn(2, 3, 64, 64)
    npy(os.path.join(out, "x.npy"), x.numpy())
    xn = x.clone()
    xn[1, 2, 10, 20] = float("nan")
    npy(os.path.join(out, "x-nan.npy"), xn.numpy())
    with torch.no_grad():
        npy(os.path.join(out, "logits.npy"), model(x).numpy())
        npy(os.path.join(out, "logits-xnan.npy"), model(xn).numpy())
        model.load_state_dict(bad)
        npy(os.path.join(out, "logits-nan.npy"), model(x).numpy())
        model.load_state_dict(sd)
        model.fc = torch.nn.Identity()
        npy(os.path.join(out, "features.npy"), model(x).numpy())


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1], set(sys.argv[2:]))
