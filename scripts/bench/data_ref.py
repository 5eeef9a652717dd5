#!/usr/bin/python3
"""data_ref.py --data DIR --workers W [--batch 64] [--epochs E] [--json]

torchvision's side of the data-pipeline benchmark: ImageFolder + DataLoader
with RandomResizedCrop(224) + RandomHorizontalFlip + ToTensor + Normalize,
torch threads 1 in every process, persistent workers. One untimed warm-up
epoch (worker start-up), then E timed epochs. CPU time counts the main
process and its workers (from /proc), as gtl bench-data counts its own.
"""
import argparse, json, os, sys, time

import torch
import torchvision.datasets as D
import torchvision.transforms as T

TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def init_worker(_):
    torch.set_num_threads(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(1)
    tf = T.Compose([T.RandomResizedCrop(a.size), T.RandomHorizontalFlip(), T.ToTensor(),
                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    ds = D.ImageFolder(a.data, transform=tf)
    dl = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=True, num_workers=a.workers,
                                     persistent_workers=a.workers > 0, worker_init_fn=init_worker)
    for _ in dl:  # warm-up: starts the workers
        pass
    it = dl._iterator
    pids = [os.getpid()] + ([w.pid for w in it._workers] if it is not None and a.workers > 0 else [])
    c0, t0 = sum(cpu_of(p) for p in pids), time.perf_counter()
    n = 0
    for _ in range(a.epochs):
        for x, y in dl:
            n += x.shape[0]
    secs = time.perf_counter() - t0
    cpu = sum(cpu_of(p) for p in pids) - c0
    r = dict(workers=a.workers, batch=a.batch, images=n, seconds=secs, img_per_s=n / secs,
             cpu_seconds=cpu, img_per_cpu_s=n / cpu, torch=torch.__version__)
    if a.json:
        print(json.dumps(r))
    else:
        print(f"{n} images in {secs:.2f} s with {a.workers} workers: {n/secs:.1f} img/s, "
              f"{n/cpu:.1f} img per CPU-second")


if __name__ == "__main__":
    main()
