#!/usr/bin/python3
"""train_ref.py --data DIR --weights init.pth --mode finetune|fe-naive [...]

PyTorch's side of the end-to-end benchmark (e2e.sh): the script a PyTorch
user would write for what `gtl train` does, with the same settings.

  finetune   resnet18 from --weights with a new head for the data's classes,
             conv1/bn1/layer1 frozen (requires_grad False and those batch
             norms in eval mode, as gtl --freeze 2 --bn-policy eval),
             RandomResizedCrop(size, scale=(0.35, 1)) + RandomHorizontalFlip
             + ToTensor + Normalize(ImageNet) (gtl --augment light).
  fe-naive   feature extractor, naive: every layer but the new head frozen,
             batch norms in eval mode, no augmentation (Resize + CenterCrop,
             as gtl loads images without augmentation), the whole network
             forwarded every step (gtl --freeze all --no-cache).

Both: ImageFolder DIR/train and DIR/val, DataLoader(batch, shuffle,
num_workers, drop_last=True: gtl drops the incomplete last batch), SGD
momentum 0.9, cross-entropy, torch.set_num_threads(threads); after each
epoch the val set is evaluated (eval mode, no_grad, Resize + CenterCrop), as
gtl does. Prints one JSON line: per-epoch training seconds (from creating the
loader's iterator to the last step, as gtl's metrics.jsonl counts them),
validation seconds, and the time from the start of main to the end.

  train_ref.py --save-init init.pth    # the shared random-init resnet18 (seed 0)
"""
import argparse, json, sys, time

import torch
import torch.nn as nn
import torchvision
import torchvision.datasets as D
import torchvision.transforms as T

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def build(weights, classes, mode):
    m = torchvision.models.resnet18()
    m.load_state_dict(torch.load(weights))
    m.fc = nn.Linear(m.fc.in_features, classes)
    if mode == "finetune":
        frozen = [m.conv1, m.bn1, m.layer1]
    else:
        frozen = [c for n, c in m.named_children() if n != "fc"]
    for mod in frozen:
        for p in mod.parameters():
            p.requires_grad_(False)
    return m, frozen


def train_mode(m, frozen):
    m.train()
    for mod in frozen:  # frozen batch norms keep their statistics
        mod.eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data")
    ap.add_argument("--weights")
    ap.add_argument("--save-init", help="write the seed-0 random-init resnet18 state dict here and exit")
    ap.add_argument("--mode", choices=["finetune", "fe-naive"], default="finetune")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    began = time.perf_counter()
    torch.set_num_threads(a.threads)
    if a.save_init:
        torch.manual_seed(0)
        torch.save(torchvision.models.resnet18().state_dict(), a.save_init)
        return
    if not a.data or not a.weights:
        sys.exit("train_ref.py: --data and --weights are needed")
    torch.manual_seed(a.seed)
    evaltf = T.Compose([T.Resize(a.size), T.CenterCrop(a.size), T.ToTensor(), T.Normalize(MEAN, STD)])
    traintf = evaltf
    if a.mode == "finetune":
        traintf = T.Compose([T.RandomResizedCrop(a.size, scale=(0.35, 1)), T.RandomHorizontalFlip(),
                             T.ToTensor(), T.Normalize(MEAN, STD)])
    train = D.ImageFolder(f"{a.data}/train", transform=traintf)
    val = D.ImageFolder(f"{a.data}/val", transform=evaltf)
    tl = torch.utils.data.DataLoader(train, batch_size=a.batch, shuffle=True, num_workers=a.workers, drop_last=True)
    vl = torch.utils.data.DataLoader(val, batch_size=a.batch, shuffle=False, num_workers=a.workers)
    m, frozen = build(a.weights, len(train.classes), a.mode)
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=a.lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    epochs = []
    for e in range(a.epochs):
        t0 = time.perf_counter()
        train_mode(m, frozen)
        total, steps = 0.0, 0
        for x, y in tl:
            loss = loss_fn(m(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
            steps += 1
        t1 = time.perf_counter()
        m.eval()
        correct, n, vloss = 0, 0, 0.0
        with torch.no_grad():
            for x, y in vl:
                out = m(x)
                vloss += loss_fn(out, y).item() * len(y)
                correct += (out.argmax(1) == y).sum().item()
                n += len(y)
        t2 = time.perf_counter()
        epochs.append(dict(epoch=e + 1, seconds=t1 - t0, val_seconds=t2 - t1, train_loss=total / steps,
                           val_loss=vloss / n, val_accuracy=correct / n, steps=steps))
    print(json.dumps(dict(mode=a.mode, batch=a.batch, workers=a.workers, threads=a.threads, train_images=len(train),
                          val_images=len(val), epochs=epochs, main_seconds=time.perf_counter() - began,
                          torch=torch.__version__)))


if __name__ == "__main__":
    main()
