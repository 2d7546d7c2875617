"""PyTorch reference for finetune's benchmark (targets 1 and 7): the same network, data, batch and
optimizer, trained in eager PyTorch; prints one JSON line with the median training images/s.

    python3 benchmarks/pytorch_reference.py --model finetune-vision/src/test/resources/torchscript/tiny-cnn.pt \
        --size 64 --batch 32 --steps 60 --repeats 3 --threads 1 [--device cuda] [--channels-last] [--bf16]
    python3 benchmarks/pytorch_reference.py --arch resnet18 --bn eval --size 112 --steps 1 --warmup 1 --repeats 3 [--bf16]
    python3 benchmarks/pytorch_reference.py --arch mobilenetv2 --bn eval --size 224 --export /tmp/mnv2.pt
    python3 benchmarks/pytorch_reference.py --arch resnet50 --size 224 --batch 64 --device cuda   # needs torchvision

--arch tiny: the tiny CNN rebuilt in eager mode with the TorchScript file's weights (--model), so both
sides train the same weights. --arch resnet18: torchvision's ResNet-18 (BasicBlock, [2, 2, 2, 2]) in
plain torch, torchvision's parameter names and initialisation, seeded (torch.manual_seed(0)); no
torchvision needed. --arch mobilenetv2: the eager MobileNetV2 of
finetune-examples/models/convert_nsfwjs_mobilenetv2.py (torchvision's features.N layout, Keras
padding, BatchNorm eps 1e-3) with the weights of the quality benchmark's
finetune-examples/models/mobilenetv2-nsfwjs-embedding.pt (--model to use another file); checked
to give the file's own output. resnet18 and mobilenetv2 end with a new seeded Linear head to
--classes. --bf16 trains eager under torch.autocast(bfloat16); without it, eager float32.

--bn: `train` (the default) normalises with batch statistics and updates the running ones; `eval`
normalises with the running statistics (they never change) while every parameter, BatchNorm's scale
and shift included, still trains. --export PATH writes the network without its head, an embedding
module (N, features) as the library loads backbones, as float32 TorchScript traced in that BatchNorm
mode at 1x3x--size x--size, and exits. A trace records the mode for good: a module traced in eval
mode uses its running statistics whatever mode it is later run in, whatever the library's
BatchNormPolicy (the quality benchmark's MobileNetV2 file is traced so; finetune-vision's test
fixtures are scripted and follow the mode), and one traced in train mode uses batch statistics
always, in inference too. Target 7 exports and times with --bn eval, so that both sides run the
same BatchNorm, the one the library can run on the MobileNetV2 file.

Data: Fashion-MNIST (Debian dataset-fashion-mnist) resized to --size, grey copied to 3 channels,
ImageNet mean/std. SGD, momentum 0.9, lr 0.01, no weight decay (the Java side uses the same). Not run
by the build or the tests; the Java benchmark runs it when python3 has torch.
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

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


class BasicBlock(nn.Module):
    """torchvision's BasicBlock."""
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """torchvision.models.resnet18 (layout, parameter names, initialisation) in plain torch."""

    def __init__(self, classes: int):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._layer(64, 2)
        self.layer2 = self._layer(128, 2, stride=2)
        self.layer3 = self._layer(256, 2, stride=2)
        self.layer4 = self._layer(512, 2, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _layer(self, planes: int, blocks: int, stride: int = 1):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride=stride, bias=False),
                                       nn.BatchNorm2d(planes))
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class Residual(nn.Module):
    """body(x) + x: the convert script's `Add` (so the parameters are named features.N.body.*)."""

    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return x + self.body(x)


def _bn(c: int):
    return nn.BatchNorm2d(c, eps=1e-3, momentum=1e-3)  # Keras: epsilon 0.001, momentum 0.999


def _conv(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1):
    # Keras 'same' at stride 1 (odd kernel) is symmetric; stride 2 is 'valid' after a ZeroPadding2D
    return nn.Conv2d(cin, cout, k, stride=stride, padding=(k - 1) // 2 if stride == 1 else 0, groups=groups,
                     bias=False)


def _pad():
    return nn.ZeroPad2d((0, 1, 0, 1))  # Keras correct_pad at even sizes: bottom/right only


class MobileNetV2(nn.Module):
    """The convert script's rebuild of nsfwjs's Keras MobileNetV2 (alpha 1.0), written out layer by layer:
    features.0 stem, features.1-17 inverted residual blocks, features.18 1x1 conv to 1280; then global
    average pooling and a new Linear head."""

    # (expansion, output channels, stride) of features.1 ... features.17 (Keras expanded_conv, block_1..16)
    BLOCKS = [(1, 16, 1), (6, 24, 2), (6, 24, 1), (6, 32, 2), (6, 32, 1), (6, 32, 1), (6, 64, 2), (6, 64, 1),
              (6, 64, 1), (6, 64, 1), (6, 96, 1), (6, 96, 1), (6, 96, 1), (6, 160, 2), (6, 160, 1),
              (6, 160, 1), (6, 320, 1)]

    def __init__(self, classes: int):
        super().__init__()
        features = [nn.Sequential(_pad(), _conv(3, 32, 3, stride=2), _bn(32), nn.ReLU6())]
        cin = 32
        for t, cout, stride in self.BLOCKS:
            hidden = cin * t
            ops = [] if t == 1 else [_conv(cin, hidden, 1), _bn(hidden), nn.ReLU6()]
            if stride == 2:
                ops.append(_pad())
            ops += [_conv(hidden, hidden, 3, stride=stride, groups=hidden), _bn(hidden), nn.ReLU6(),
                    _conv(hidden, cout, 1), _bn(cout)]
            body = nn.Sequential(*ops)
            features.append(Residual(body) if stride == 1 and cin == cout else body)
            cin = cout
        features.append(nn.Sequential(_conv(cin, 1280, 1), _bn(1280), nn.ReLU6()))
        self.features = nn.Sequential(*features)
        self.fc = nn.Linear(1280, classes)

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


def build(a):
    """The eager network of --arch, with its weights."""
    if a.arch == "tiny":
        net = TinyCnn(a.classes)
        if a.model:
            net.load_state_dict(torch.jit.load(a.model).state_dict())
    elif a.arch == "resnet18":
        net = ResNet18(a.classes)
    elif a.arch == "mobilenetv2":
        net = MobileNetV2(a.classes)
        path = a.model or os.path.join(REPO, "finetune-examples", "models", "mobilenetv2-nsfwjs-embedding.pt")
        scripted = torch.jit.load(path)
        missing, unexpected = net.load_state_dict(scripted.state_dict(), strict=False)
        assert missing == ["fc.weight", "fc.bias"] and not unexpected, (missing, unexpected)
        net.eval()
        with torch.no_grad():  # the rebuild must be the file's network
            probe = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
            assert torch.allclose(net.features(probe).mean(dim=(2, 3)), scripted(probe), atol=1e-4), path
    else:
        import torchvision
        net = torchvision.models.resnet50(num_classes=a.classes)
    return net


def set_mode(net, bn: str):
    """Training mode, BatchNorm in the --bn mode."""
    net.train()
    if bn == "eval":
        for m in net.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
    return net


def export(net, a):
    """Writes the network without its head as float32 TorchScript traced in the --bn mode."""
    if not hasattr(net, "fc"):
        raise SystemExit("--export needs --arch resnet18, mobilenetv2 or tiny")
    net.fc = nn.Identity()
    net = set_mode(net, a.bn)
    example = torch.rand(1, 3, a.size, a.size)
    with torch.no_grad():
        traced = torch.jit.trace(net, example, check_trace=False)
    traced.save(a.export)
    loaded = torch.jit.load(a.export)
    x = torch.rand(2, 3, a.size, a.size)
    with torch.no_grad():
        out = loaded(x)
        if a.bn == "eval":  # a train-mode trace changed the running statistics: nothing to compare
            assert torch.allclose(out, net(x), atol=1e-5)
    print(json.dumps({"framework": "pytorch " + torch.__version__, "arch": a.arch, "exported": a.export,
                      "bn": a.bn, "size": a.size, "features": out.shape[1],
                      "parameters": sum(p.numel() for p in net.parameters())}))


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
    p.add_argument("--arch", default="tiny", choices=["tiny", "resnet18", "mobilenetv2", "resnet50"])
    p.add_argument("--model", default=None, help="TorchScript file whose weights the tiny CNN (or MobileNetV2) takes")
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--bn", default="train", choices=["train", "eval"],
                   help="BatchNorm while training: batch statistics (train) or running statistics (eval)")
    p.add_argument("--export", metavar="PATH", help="write the headless network as traced TorchScript and exit")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--budget", type=float, default=0,
                   help="seconds: no further repeat starts once the counted ones took this long; a warm-up"
                        " that alone took this long is the only measurement (0: no limit)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--bf16", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = build(a)
    if a.export:
        export(net, a)
        return
    dev = torch.device(a.device)
    net = set_mode(net.to(dev), a.bn)
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

    t = time.perf_counter()
    for i in range(a.warmup):
        step(i)
    sync()
    warmup = time.perf_counter() - t
    rates = []
    spent = 0.0
    # a warm-up that alone outlasts the budget is the measurement (slow paths: seconds of set-up do not matter)
    warmup_only = bool(a.budget and a.warmup and warmup >= a.budget)
    if warmup_only:
        rates.append(a.warmup * a.batch / warmup)
    for _ in range(0 if warmup_only else a.repeats):
        t = time.perf_counter()
        for i in range(a.steps):
            step(i)
        sync()
        seconds = time.perf_counter() - t
        rates.append(a.steps * a.batch / seconds)
        spent += seconds
        if a.budget and spent >= a.budget:
            break
    print(json.dumps({"framework": "pytorch " + torch.__version__, "arch": a.arch, "device": a.device,
                      "batch": a.batch, "size": a.size, "threads": a.threads, "channels_last": a.channels_last,
                      "bf16": a.bf16, "bn": a.bn, "warmup_only": warmup_only, "images_per_second": statistics.median(rates), "all": rates}))


if __name__ == "__main__":
    main()
