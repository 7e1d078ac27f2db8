"""In the manner of TorchVision's classification reference (references/classification/train.py): the
model picked by name from ``models.__dict__``, label-smoothed cross entropy, SGD with nesterov and
weight decay kept off the norm layers, a warm-up then cosine schedule, a checkpoint holding the args,
and a resume that continues where it stopped. The images are tiny, so the network's later stages see
1x1 maps; group norm (one group) stands in for batch norm there, whose statistics over four values
would turn float32 rounding into different trajectories."""
import argparse
import os

import numpy as np
import torch
import torch.utils.data
import torchvision
from torch import nn


def get_args_parser():
    parser = argparse.ArgumentParser(description="PyTorch Classification Training", add_help=False)
    parser.add_argument("--model", default="resnet18", type=str)
    parser.add_argument("--lr", default=0.1, type=float)
    parser.add_argument("--momentum", default=0.9, type=float)
    parser.add_argument("--wd", "--weight-decay", default=1e-4, type=float, dest="weight_decay")
    parser.add_argument("--norm-weight-decay", default=0.0, type=float)
    parser.add_argument("--label-smoothing", default=0.1, type=float)
    parser.add_argument("--epochs", default=2, type=int)
    parser.add_argument("--lr-warmup-epochs", default=1, type=int)
    parser.add_argument("--output-dir", default=".", type=str)
    return parser


def set_weight_decay(model, weight_decay, norm_weight_decay):
    norm_classes = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm,
                    nn.modules.instancenorm._InstanceNorm, nn.LocalResponseNorm)
    params = {"other": [], "norm": []}

    def _add_params(module):
        for _name, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            params["norm" if isinstance(module, norm_classes) else "other"].append(p)
        for child in module.children():
            _add_params(child)

    _add_params(model)
    return [{"params": params["other"], "weight_decay": weight_decay},
            {"params": params["norm"], "weight_decay": norm_weight_decay}]


def train_one_epoch(model, criterion, optimizer, data_loader):
    model.train()
    total = 0.0
    for image, target in data_loader:
        output = model(image)
        loss = criterion(output, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / len(data_loader)


def accuracy(output, target, topk=(1,)):
    with torch.inference_mode():
        maxk = max(topk)
        batch_size = target.size(0)
        _, pred = output.topk(maxk, 1, True, True)
        pred = pred.t()
        correct = pred.eq(target[None])
        return [correct[:k].flatten().sum(dtype=torch.float32) * (100.0 / batch_size) for k in topk]


def build(args, state_dir):
    model_names = sorted(name for name in torchvision.models.__dict__
                         if name.islower() and not name.startswith("__")
                         and callable(torchvision.models.__dict__[name]))
    assert args.model in model_names
    model = torchvision.models.__dict__[args.model](weights=None, num_classes=3,
                                                    norm_layer=lambda c: nn.GroupNorm(1, c))
    init = os.path.join(state_dir, "reference_init.pth")
    if os.path.exists(init):
        model.load_state_dict(torch.load(init))
    else:
        torch.save(model.state_dict(), init)
    parameters = set_weight_decay(model, args.weight_decay, args.norm_weight_decay)
    optimizer = torch.optim.SGD(parameters, lr=args.lr, momentum=args.momentum,
                                weight_decay=args.weight_decay, nesterov=True)
    warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=args.lr_warmup_epochs)
    main_lr = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs - args.lr_warmup_epochs)
    lr_scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, schedulers=[warmup, main_lr],
                                                         milestones=[args.lr_warmup_epochs])
    return model, optimizer, lr_scheduler


def main(state_dir):
    args = get_args_parser().parse_args(["--model", "resnet18", "--lr", "0.01", "--output-dir", state_dir])
    rng = np.random.RandomState(0)
    images = torch.from_numpy(rng.rand(8, 3, 8, 8).astype(np.float32))
    labels = torch.from_numpy(rng.randint(0, 3, size=8))
    dataset = torch.utils.data.TensorDataset(images, labels)
    sampler = torch.utils.data.SequentialSampler(dataset)
    data_loader = torch.utils.data.DataLoader(dataset, batch_size=4, sampler=sampler)
    criterion = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)

    model, optimizer, lr_scheduler = build(args, state_dir)
    losses = []
    for epoch in range(1):
        losses.append(train_one_epoch(model, criterion, optimizer, data_loader))
        lr_scheduler.step()
        checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                      "lr_scheduler": lr_scheduler.state_dict(), "epoch": epoch, "args": args}
        torch.save(checkpoint, os.path.join(args.output_dir, "checkpoint.pth"))
        print(f"epoch {epoch} loss {losses[-1]:.5f} lr {optimizer.param_groups[0]['lr']:.5f}")

    # resume into fresh objects, as train.py --resume does
    model, optimizer, lr_scheduler = build(args, state_dir)
    checkpoint = torch.load(os.path.join(args.output_dir, "checkpoint.pth"), map_location="cpu",
                            weights_only=False)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    lr_scheduler.load_state_dict(checkpoint["lr_scheduler"])
    start_epoch = checkpoint["epoch"] + 1
    print("resumed", checkpoint["args"].model, start_epoch)
    for epoch in range(start_epoch, args.epochs):
        losses.append(train_one_epoch(model, criterion, optimizer, data_loader))
        lr_scheduler.step()
        print(f"epoch {epoch} loss {losses[-1]:.5f} lr {optimizer.param_groups[0]['lr']:.5f}")
    model.eval()
    with torch.inference_mode():
        output = model(images)
    acc1, acc2 = accuracy(output, labels, topk=(1, 2))
    print(f"Acc@1 {acc1.item():.3f} Acc@2 {acc2.item():.3f}")
    return {"losses": losses, "logits": output.numpy(), "acc": [acc1.item(), acc2.item()]}
