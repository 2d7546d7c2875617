"""Pretrains the example backbone and saves it as TorchScript (run once at development time).

    python3 finetune-examples/models/pretrain_fashion_source.py

A narrow ResNet-18-shaped network (conv1/bn1 stem, layer1..layer4 of two BasicBlocks, widths 8-64)
is trained on the five Fashion-MNIST *source* classes (T-shirt/top, Trouser, Dress, Sandal, Bag) of
the Debian package dataset-fashion-mnist, with the preprocessing the Java examples use: 28x28 grey
-> 32x32 (bilinear) -> 3 identical channels -> ImageNet mean/std. The examples fine-tune it to the
other five classes (and to MNIST digits), which it has never seen. Writes

  fashion-source-resnet-embedding.pt  the trained network with fc = Identity: outputs 64 features

(measured when it was made: 0.979 accuracy on the source classes of the Fashion-MNIST test split).

Both are scripted (torch.jit.script), so train/eval mode still switches BatchNorm. The build and the
tests never run this script; they use the committed .pt files.
"""
import gzip
import os
import struct

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = "/usr/share/datasets/fashion-mnist"
SOURCE = [0, 1, 3, 5, 8]
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def idx(name):
    with gzip.open(os.path.join(DATA, name)) as f:
        magic = struct.unpack(">I", f.read(4))[0]
        dims = struct.unpack(">" + "I" * (magic & 0xFF), f.read(4 * (magic & 0xFF)))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(dims)


def preprocess(x):
    x = torch.from_numpy(x).float().div(255).unsqueeze(1)
    x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    return (x.repeat(1, 3, 1, 1) - MEAN) / STD


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
                           if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.downsample(x))


class ResNetSmall(nn.Module):
    def __init__(self, classes: int, widths=(8, 16, 32, 64)):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        cin = widths[0]
        stages = []
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(BasicBlock(cin, w, stride), BasicBlock(w, w, 1)))
            cin = w
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def main():
    torch.manual_seed(0)
    torch.set_num_threads(2)
    images, labels = idx("train-images-idx3-ubyte.gz"), idx("train-labels-idx1-ubyte.gz")
    test_images, test_labels = idx("t10k-images-idx3-ubyte.gz"), idx("t10k-labels-idx1-ubyte.gz")
    remap = {c: i for i, c in enumerate(SOURCE)}
    keep = np.isin(labels, SOURCE)
    x, y = preprocess(images[keep]), torch.tensor([remap[v] for v in labels[keep]])
    keep_t = np.isin(test_labels, SOURCE)
    xt, yt = preprocess(test_images[keep_t]), torch.tensor([remap[v] for v in test_labels[keep_t]])
    net = ResNetSmall(len(SOURCE))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    epochs, batch = 3, 128
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=epochs * ((len(x) + batch - 1) // batch))
    for epoch in range(epochs):
        net.train()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), batch):
            b = perm[i:i + batch]
            xb = x[b]
            flip = torch.rand(len(b)) < 0.5
            xb[flip] = xb[flip].flip(3)
            loss = F.cross_entropy(net(xb), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        with torch.no_grad():
            acc = (net(xt).argmax(1) == yt).float().mean().item()
        print(f"epoch {epoch + 1}: source test accuracy {acc:.4f}")
    net.eval()
    net.fc = nn.Identity()
    torch.jit.script(net).save(os.path.join(HERE, "fashion-source-resnet-embedding.pt"))


if __name__ == "__main__":
    main()
