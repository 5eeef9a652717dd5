"""Weight files as the ecosystem writes them, for gtl's tests (issue 10).

Run with Debian's /usr/bin/python3 (python3-torch, python3-torchvision):

  realworld_weights.py DIR

writes into DIR, from one seeded torchvision mobilenet_v2(num_classes=5)
("plain") and a second seeded copy standing for its EMA ("ema"):

  plain.pth            torch.save(model.state_dict())
  ddp.safetensors      DataParallel's "module." prefix, safetensors
  ddp-old.pth          "module." prefix, legacy format, no num_batches_tracked
                       (as files saved before PyTorch 0.4.1)
  compiled.pth         torch.compile inside DDP: "_orig_mod.module." prefix
  lightning.ckpt       a full Lightning checkpoint, model held as self.model
  timm.pth             {"state_dict": plain, "state_dict_ema": ema}
  fastai.pth           {"model": plain, "opt": optimizer state}
  ema.pth              the EMA's plain state dict
  half.pth             model.half().state_dict()
  half-as-float.pth    the same values as float32
  script.pt            torch.jit.script(model).save(...)
  script-other.pt      a scripted module whose names are not mobilenet_v2's
  module.pth           torch.save(model): a whole pickled module
  inception-noaux.pth  inception_v3(aux_logits=False, init_weights=False, num_classes=5)
"""
import collections
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weights_io import write_safetensors  # noqa: E402


def prefixed(sd, prefix):
    return collections.OrderedDict((prefix + k, v) for k, v in sd.items())


def main(out):
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2(num_classes=5).eval()
    # Non-trivial batch-norm statistics, so that loading them matters.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(7)
    sd = collections.OrderedDict((k, v.clone()) for k, v in model.state_dict().items())
    torch.manual_seed(1)
    ema = torchvision.models.mobilenet_v2(num_classes=5).state_dict()

    torch.save(sd, os.path.join(out, "plain.pth"))
    write_safetensors(os.path.join(out, "ddp.safetensors"), prefixed(sd, "module."), {"format": "pt"})
    old = collections.OrderedDict((k, v) for k, v in prefixed(sd, "module.").items() if not k.endswith("num_batches_tracked"))
    torch.save(old, os.path.join(out, "ddp-old.pth"), _use_new_zipfile_serialization=False)
    torch.save(prefixed(sd, "_orig_mod.module."), os.path.join(out, "compiled.pth"))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.zeros(1, 3, 32, 32)).sum().backward()
    opt.step()
    model.load_state_dict(sd)  # the step changed the weights: back to the saved ones
    torch.save({
        "epoch": 3, "global_step": 120, "pytorch-lightning_version": "1.9.5",
        "state_dict": prefixed(sd, "model."),
        "loops": {"fit_loop": {"epoch_progress": {"current": {"completed": 3}}}},
        "callbacks": {"ModelCheckpoint{'monitor': 'val_loss'}": {"best_model_score": torch.tensor(0.25)}},
        "optimizer_states": [opt.state_dict()], "lr_schedulers": [],
        "hparams_name": "kwargs", "hyper_parameters": {"lr": 0.1, "arch": "mobilenet_v2"},
    }, os.path.join(out, "lightning.ckpt"))
    torch.save({"state_dict": sd, "state_dict_ema": ema, "epoch": 9, "arch": "mobilenet_v2"}, os.path.join(out, "timm.pth"))
    torch.save({"model": sd, "opt": opt.state_dict()}, os.path.join(out, "fastai.pth"))
    torch.save(ema, os.path.join(out, "ema.pth"))
    half = collections.OrderedDict((k, v.half() if v.is_floating_point() else v) for k, v in sd.items())
    torch.save(half, os.path.join(out, "half.pth"))
    torch.save(collections.OrderedDict((k, v.float() if v.is_floating_point() else v) for k, v in half.items()),
               os.path.join(out, "half-as-float.pth"))
    torch.jit.script(model).save(os.path.join(out, "script.pt"))
    torch.jit.script(torch.nn.Sequential(model)).save(os.path.join(out, "script-other.pt"))
    torch.save(model, os.path.join(out, "module.pth"))
    torch.manual_seed(2)
    inc = torchvision.models.inception_v3(aux_logits=False, init_weights=False, num_classes=5)
    torch.save(inc.state_dict(), os.path.join(out, "inception-noaux.pth"))
    print(len([k for k in inc.state_dict()]))


if __name__ == "__main__":
    main(sys.argv[1])
