#!/usr/bin/python3
"""Reference outputs of torchvision models for gtl's parity tests.

    make_fixtures.py OUTDIR ARCH [ARCH ...]

For each architecture: a seeded model with torchvision's own initialisation
and randomised batch-norm parameters and statistics (so that eval mode is not
an identity: running statistics averaged over two random calibration
batches), 10 classes; writes OUTDIR/ARCH.pth (its state dict),
ARCH.input.npy (a batch of 2 images), ARCH.eval.npy (eval-mode logits) and
ARCH.train.npy (training-mode logits with dropout and stochastic depth off),
plus ARCH.init.json: the parameter count, the standard deviation of every
weight tensor of a fresh model, and the mean initial training loss of fresh
models (for the initialisation tests). Run with Debian's python3-torchvision
(test set-up installs it); gtl itself never needs Python.
"""
import json
import os
import sys

import numpy as np
import torch
import torchvision

NUM_CLASSES = 10


def input_size(arch):
    if arch == "inception_v3":
        return 299
    if arch.startswith("vit_"):
        return 224
    return 64


def build(arch):
    kwargs = {"weights": None, "num_classes": NUM_CLASSES}
    if arch == "inception_v3":
        kwargs.update(aux_logits=True, init_weights=True)
    if arch == "googlenet":
        # As with its published weights (gtl skips their aux1/aux2 on load).
        kwargs.update(aux_logits=False, init_weights=True)
    return getattr(torchvision.models, arch)(**kwargs)


def no_dropout(m):
    for mod in m.modules():
        if isinstance(mod, torch.nn.Dropout) or type(mod).__name__ == "StochasticDepth":
            mod.p = 0.0


# The largest models: fewer images for the initial-loss check, so that the
# fixture and the Go test stay within minutes and a few GB on 2 cores.
HEAVY = {"vit_l_16", "vit_l_32", "regnet_y_128gf", "regnet_y_32gf", "regnet_x_32gf", "convnext_large", "swin_b", "efficientnet_v2_l"}


def init_batch(arch):
    """Images for the initial-loss check (fewer for the slow ViT and the
    largest models)."""
    if arch in HEAVY:
        return 2
    return 4 if arch.startswith("vit_") else 16


def init_loss(arch, s):
    """Mean initial cross-entropy of fresh models (seeds 1-3) in training
    mode, dropout off, on random images with random labels."""
    g = torch.Generator().manual_seed(123)
    n = init_batch(arch)
    x = torch.randn(n, 3, s, s, generator=g)
    y = torch.randint(NUM_CLASSES, (n,), generator=g)
    losses = []
    for seed in (1, 2, 3):
        torch.manual_seed(seed)
        m = build(arch)
        no_dropout(m)
        m.train()
        with torch.no_grad():
            out = m(x)
        if hasattr(out, "logits"):
            out = out.logits
        losses.append(float(torch.nn.functional.cross_entropy(out, y)))
    return losses


def main(out, archs):
    os.makedirs(out, exist_ok=True)
    # One thread here and in the Go tests: the same libtorch then sums in the
    # same order, so deep networks agree to the last bit.
    torch.set_num_threads(1)
    for arch in archs:
        torch.manual_seed(0)
        m = build(arch)
        init = {k: float(v.float().std()) for k, v in m.state_dict().items()
                if v.dim() >= 1 and v.numel() > 1 and v.is_floating_point() and "running" not in k}
        s = input_size(arch)
        bns = [mod for mod in m.modules() if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm)]
        momenta = [bn.momentum for bn in bns]
        with torch.no_grad():
            # Realistic running statistics, averaged over two calibration
            # batches (momentum None = cumulative average), so that eval-mode
            # activations keep a sane scale and the tolerance relative to
            # max |y| stays tight.
            for bn in bns:
                bn.momentum = None
                bn.weight.normal_(1.0, 0.2)
                bn.bias.normal_(0.0, 0.2)
            no_dropout(m)
            m.train()
            for _ in range(2):
                m(torch.randn(4, 3, s, s))
        for bn, mom in zip(bns, momenta):
            bn.momentum = mom
        with torch.no_grad():
            # Tensors that a fresh model holds constant (zero heads and biases,
            # ConvNeXt's 1e-6 layer scales, ViT's class token) would let a wrong
            # computation through: give them random values too.
            bn_params = {id(p) for bn in bns for p in bn.parameters()}
            for name, p in m.named_parameters():
                if id(p) in bn_params:
                    continue
                if "layer_scale" in name:
                    p.uniform_(0.3, 1.0)
                elif p.numel() == 1 or float(p.std()) == 0.0:
                    p.normal_(0.0, 0.2)
        x = torch.randn(2, 3, s, s)
        m.eval()
        with torch.no_grad():
            y = m(x)
        state = {k: v.clone() for k, v in m.state_dict().items()}
        no_dropout(m)
        m.train()
        with torch.no_grad():
            yt = m(x)
        if hasattr(yt, "logits"):
            yt = yt.logits
        torch.save(state, os.path.join(out, arch + ".pth"))
        np.save(os.path.join(out, arch + ".input.npy"), x.numpy())
        np.save(os.path.join(out, arch + ".eval.npy"), y.numpy())
        np.save(os.path.join(out, arch + ".train.npy"), yt.numpy())
        with open(os.path.join(out, arch + ".init.json"), "w") as f:
            json.dump({"params": sum(p.numel() for p in m.parameters()), "std": init,
                       "init_losses": init_loss(arch, s)}, f)
        print(arch, "ok", flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
