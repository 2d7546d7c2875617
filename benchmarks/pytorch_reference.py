"""PyTorch reference for finetune's benchmark (target 1): the same network, data, batch and optimizer,
trained in eager PyTorch; prints one JSON line with the median training images/s.

    python3 benchmarks/pytorch_reference.py --model finetune-vision/src/test/resources/torchscript/tiny-cnn.pt \
        --size 64 --batch 32 --steps 60 --repeats 3 --threads 1 [--device cuda] [--channels-last] [--bf16]
    python3 benchmarks/pytorch_reference.py --arch resnet50 --size 224 --batch 64 --device cuda   # needs torchvision

The tiny CNN is rebuilt in eager mode with the TorchScript file's weights, so both sides train the
same weights. Data: Fashion-MNIST (Debian dataset-fashion-mnist) resized to --size, grey copied to
3 channels, ImageNet mean/std. SGD, momentum 0.9, lr 0.01, no weight decay (the Java side uses the
same). Not run by the build or the tests; the Java benchmark runs it when python3 has torch.
"""
import argparse
import gzip
import json
import os
import statistics
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class TinyCnn(nn.Module):
    """The layout of finetune-vision's tiny-cnn.pt fixture."""

    def __init__(self, classes: int):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.layer1 = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                                    nn.MaxPool2d(2))
        self.layer2 = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                                    nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        return self.fc(self.layer2(self.layer1(x)))


def fashion(size: int, n: int):
    root = "/usr/share/datasets/fashion-mnist"
    with gzip.open(os.path.join(root, "train-images-idx3-ubyte.gz")) as f:
        f.read(16)
        x = np.frombuffer(f.read(784 * n), dtype=np.uint8).reshape(n, 1, 28, 28)
    with gzip.open(os.path.join(root, "train-labels-idx1-ubyte.gz")) as f:
        f.read(8)
        y = np.frombuffer(f.read(n), dtype=np.uint8)
    x = torch.from_numpy(x.copy()).float().div(255)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).repeat(1, 3, 1, 1)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    return (x - mean) / std, torch.from_numpy(y.astype(np.int64))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="tiny", choices=["tiny", "resnet50"])
    p.add_argument("--model", default=None, help="TorchScript file whose weights the tiny CNN takes")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--bf16", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.arch == "tiny":
        net = TinyCnn(10)
        if a.model:
            net.load_state_dict(torch.jit.load(a.model).state_dict())
    else:
        import torchvision
        net = torchvision.models.resnet50(num_classes=10)
    dev = torch.device(a.device)
    net = net.to(dev).train()
    n = a.batch * a.steps
    x, y = fashion(a.size, min(n, 60000))
    x, y = x.to(dev), y.to(dev)
    if a.channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    def step(i):
        lo = (i * a.batch) % (len(x) - a.batch + 1)
        xb, yb = x[lo:lo + a.batch], y[lo:lo + a.batch]
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=a.bf16):
            loss = F.cross_entropy(net(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    for i in range(a.warmup):
        step(i)
    sync()
    rates = []
    for _ in range(a.repeats):
        t = time.perf_counter()
        for i in range(a.steps):
            step(i)
        sync()
        rates.append(a.steps * a.batch / (time.perf_counter() - t))
    print(json.dumps({"framework": "pytorch " + torch.__version__, "arch": a.arch, "device": a.device,
                      "batch": a.batch, "size": a.size, "threads": a.threads, "channels_last": a.channels_last,
                      "bf16": a.bf16, "images_per_second": statistics.median(rates), "all": rates}))


if __name__ == "__main__":
    main()
