#!/usr/bin/env python3
"""pytorch_ref.py: the measurement of `gtl bench` done in PyTorch.

Same flags, same synthetic data (one seeded random batch), same step
(train: zero_grad, forward, cross-entropy, backward, SGD momentum 0.9 step;
infer: no-grad eval forward), same timing (warm-up, then per-step times with
a CUDA synchronisation after each step on a GPU), same --json keys.
Works with torch 1.13 (CPU) and 2.x (CUDA; autocast, channels_last,
cudnn.benchmark, TF32).

    python3 scripts/bench/pytorch_ref.py --model resnet18 --mode infer --batch 16 --device cpu --json
"""
import argparse
import json
import os
import platform
import resource
import sys
import time


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k.strip() == "model name":
                    return v.strip()
    except OSError:
        pass
    return platform.machine()


def peak_rss():
    """Peak resident set size in bytes (VmHWM, as gtl reads it)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def percentile(xs, q):
    s = sorted(xs)
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    f = pos - lo
    return s[lo] * (1 - f) + s[hi] * f


def physical_cores():
    cores = set()
    base = "/sys/devices/system/cpu"
    try:
        n = len(os.sched_getaffinity(0))
        for d in os.listdir(base):
            if d.startswith("cpu") and d[3:].isdigit():
                t = os.path.join(base, d, "topology")
                with open(os.path.join(t, "physical_package_id")) as a, open(os.path.join(t, "core_id")) as b:
                    cores.add((a.read().strip(), b.read().strip()))
    except OSError:
        return os.cpu_count() or 1
    return len(cores) if 0 < len(cores) < n else n


def stage_prefixes(model):
    """gtl's stages (gtl models) of the architectures --freeze knows."""
    if model.startswith(("resnet", "resnext", "wide_resnet")):
        return [["conv1.", "bn1."], ["layer1."], ["layer2."], ["layer3."], ["layer4."]]
    if model == "mobilenet_v2":
        return [["features.%d." % i for i in r] for r in
                (range(0, 1), range(1, 4), range(4, 7), range(7, 14), range(14, 19))]
    raise SystemExit("pytorch_ref.py: --freeze: no stage table for %s" % model)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="resnet50")
    p.add_argument("--mode", default="train", choices=["train", "infer"])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--image-size", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--amp", default="", choices=["", "bf16", "fp16"])
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--freeze", type=int, default=0,
                   help="train: freeze the first N stages (requires_grad off, their batch norms in eval mode)")
    p.add_argument("--jit-freeze", action="store_true",
                   help="infer: torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(m.eval())))")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    if a.batch < 1 or a.steps < 1 or a.warmup < 0 or a.image_size < 0 or a.threads < 0:
        p.error("--batch and --steps want at least 1; --warmup, --image-size, --threads 0 or more")

    import torch
    import torchvision

    threads = a.threads or int(os.environ.get("GTL_NUM_THREADS", "0")) or physical_cores()
    torch.set_num_threads(threads)
    if a.device == "auto":
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        dev = torch.device(a.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        p.error("--device %s: no CUDA device" % a.device)
    if a.amp == "fp16" and dev.type != "cuda":
        p.error("--amp fp16 needs a CUDA device; use bf16 on the CPU")
    cuda = dev.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    torch.manual_seed(a.seed)
    size = a.image_size or (299 if a.model == "inception_v3" else 224)
    kw = {"aux_logits": False, "init_weights": False} if a.model in ("inception_v3", "googlenet") else {}
    model = getattr(torchvision.models, a.model)(num_classes=1000, **kw).to(dev)
    x = torch.randn(a.batch, 3, size, size, device=dev)
    y = torch.randint(1000, (a.batch,), device=dev)
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(a.amp)

    def autocast():
        if amp_dtype is None:
            return torch.autocast(dev.type, enabled=False)
        return torch.autocast(dev.type, dtype=amp_dtype)

    if a.mode == "train":
        model.train()
        frozen = [q for st in stage_prefixes(a.model)[:a.freeze] for q in st] if a.freeze else []
        for name, prm in model.named_parameters():
            if name.startswith(tuple(frozen)):
                prm.requires_grad_(False)
        for name, mod in model.named_modules():
            if frozen and isinstance(mod, torch.nn.BatchNorm2d) and (name + ".").startswith(tuple(frozen)):
                mod.eval()
        opt = torch.optim.SGD([q for q in model.parameters() if q.requires_grad], lr=0.01, momentum=0.9)
        loss_fn = torch.nn.CrossEntropyLoss()

        def step():
            opt.zero_grad()
            with autocast():
                loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
    else:
        model.eval()
        if a.jit_freeze:
            with torch.no_grad():
                model = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(model)))

        def step():
            with torch.no_grad(), autocast():
                model(x)

    for _ in range(a.warmup):
        step()
    if cuda:
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
    times = []
    began = time.perf_counter()
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize(dev)
        times.append(time.perf_counter() - t0)
    total = time.perf_counter() - began

    res = {
        "tool": "pytorch-frozen" if a.jit_freeze and a.mode == "infer" else "pytorch",
        "model": a.model,
        "mode": a.mode,
        "batch": a.batch,
        "image_size": size,
        "device": "cuda:%d" % (dev.index or 0) if cuda else "cpu",
        "device_name": torch.cuda.get_device_name(dev) if cuda else cpu_name(),
        "amp": a.amp,
        "channels_last": a.channels_last,
        "freeze": a.freeze if a.mode == "train" else 0,
        "threads": torch.get_num_threads(),
        "steps": a.steps,
        "warmup": a.warmup,
        "images_per_s": a.batch * a.steps / total,
        "step_p50_ms": percentile(times, 0.5) * 1e3,
        "step_p90_ms": percentile(times, 0.9) * 1e3,
        "peak_mem_bytes": torch.cuda.max_memory_allocated(dev) if cuda else peak_rss(),
        "peak_mem_kind": "cuda_allocated" if cuda else "rss",
        "libtorch": torch.__version__,
    }
    if a.json:
        print(json.dumps(res))
    else:
        print("%(model)s %(mode)s: batch %(batch)d, %(image_size)d px on %(device)s (%(device_name)s), "
              "%(threads)d threads, torch %(libtorch)s" % res)
        print("  %.1f images/s; step p50 %.1f ms, p90 %.1f ms; peak memory %.0f MiB (%s)" % (
            res["images_per_s"], res["step_p50_ms"], res["step_p90_ms"], res["peak_mem_bytes"] / 2**20,
            res["peak_mem_kind"]))


if __name__ == "__main__":
    sys.exit(main())
