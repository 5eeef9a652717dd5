#!/usr/bin/env python3
"""scripts/bench/mkldnn_paths.py: where PyTorch's frozen CPU inference gains.

For one torchvision model (random weights, eval), batch 16, 224 px, prints
images/s (best of N forwards, alternating, under inference_mode) of:
  eager          the module as it is;
  mkldnn_eager   batch norms fused (torch.fx), torch.utils.mkldnn.to_mkldnn:
                 prepacked weights, MKLDNN activations, ATen ops only (what
                 gtl's oneDNN path calls);
  frozen         optimize_for_inference(freeze(script(m)));
and the op counts of the frozen graph. --relu swaps ReLU6 for ReLU first
(ATen 1.13 has no oneDNN ReLU6, so mkldnn_eager cannot run mobilenet_v2
otherwise). --profile prints the autograd profiler's table of one frozen
forward.

    /usr/bin/python3 scripts/bench/mkldnn_paths.py resnet18 --reps 6
    /usr/bin/python3 scripts/bench/mkldnn_paths.py mobilenet_v2 --relu --reps 8
"""
import argparse
import collections
import time

import torch
import torch.fx.experimental.optimization as fx_opt
import torch.utils.mkldnn as mk
import torchvision

p = argparse.ArgumentParser()
p.add_argument("model")
p.add_argument("--reps", type=int, default=6)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--relu", action="store_true")
p.add_argument("--profile", action="store_true")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
m = getattr(torchvision.models, a.model)().eval()
if a.relu:
    for mod in list(m.modules()):
        for name, c in list(mod.named_children()):
            if isinstance(c, torch.nn.ReLU6):
                setattr(mod, name, torch.nn.ReLU(inplace=True))
x = torch.randn(16, 3, 224, 224)
frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(m)))
fns = {"eager": m, "frozen": frozen}
try:
    mkm = mk.to_mkldnn(fx_opt.fuse(m))
    with torch.inference_mode():
        mkm(x.to_mkldnn()).to_dense()
    fns["mkldnn_eager"] = lambda t: mkm(t.to_mkldnn()).to_dense()
except Exception as e:  # an op without a oneDNN kernel
    print("mkldnn_eager: cannot run:", str(e).splitlines()[0])
best = {}
with torch.inference_mode():
    for i in range(a.reps):
        for k, f in fns.items():
            t = time.perf_counter()
            f(x)
            d = time.perf_counter() - t
            if i > 0:
                best[k] = min(best.get(k, 1e9), d)
    if a.profile:
        with torch.autograd.profiler.profile() as prof:
            frozen(x)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
print(a.model, "relu" if a.relu else "", "img/s, best of", a.reps - 1, {k: round(16 / v, 2) for k, v in best.items()})
ops = collections.Counter(n.kind() for n in frozen.graph.nodes() if not n.kind().startswith("prim::Constant"))
print("frozen graph ops:", dict(ops))
