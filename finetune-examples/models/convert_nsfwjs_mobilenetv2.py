"""Converts the MobileNetV2 of the npm package nsfwjs@4.4.0 (MIT) to a headless TorchScript embedding.

    npm pack nsfwjs@4.4.0 && tar xzf nsfwjs-4.4.0.tgz           # -> package/
    python3 finetune-examples/models/convert_nsfwjs_mobilenetv2.py --nsfwjs package
    python3 finetune-examples/models/convert_nsfwjs_mobilenetv2.py --nsfwjs package \
        --verify /tmp/tfjs-check/out                             # after check_tfjs.js (see README.md)

nsfwjs bundles a TF.js *layers* model (Keras 2.2.4 MobileNetV2, alpha 1.0, 224 px, ImageNet-initialised,
then trained by nsfwjs on its 5 classes Drawing/Hentai/Neutral/Porn/Sexy) as two browserify files:
`dist/models/mobilenet_v2/model.min.js` (the model.json object) and `group1-shard1of1.min.js` (the
weight shard, base64). The script

1. extracts them (with `node`, which only evaluates the two data modules) to a standard TF.js folder:
   `model.json` + `group1-shard1of1.bin` under --work (default /tmp/nsfwjs-mobilenetv2);
   `--model-json` reads such a folder directly instead;
2. reads the weights manifest and dequantises the uint8 weights: value = q * scale + min;
3. rebuilds the Keras layer graph in torch, in torchvision's MobileNetV2 layout
   (features.0 = stem, features.1..17 = inverted residual blocks, features.18 = 1x1 conv to 1280):
   ZeroPadding2D ((0,1),(0,1)) before each stride-2 conv exactly as in the Keras graph (TF 'same'
   for stride 2 pads bottom/right only), 'same' stride-1 convs padded symmetrically, BatchNorm with
   the epsilon of each Keras layer (0.001), ReLU(max_value=6) as ReLU6, residual Add where the graph
   has one; the 5-class head (AveragePooling2D 7x7 -> Flatten -> Dense 256 relu -> Dense 128 relu ->
   Dense 5 softmax; Dropout is a no-op at inference) is rebuilt too, for verification only;
4. writes `mobilenetv2-nsfwjs-embedding.pt`: features -> global average pooling -> (N, 1280), eval
   mode, torch.jit.trace at 1x3x224x224. Input: RGB in [0, 1] (pixel / 255, no mean/std), NCHW,
   224x224 (what nsfwjs feeds the model).

--verify DIR compares the rebuilt full network with TF.js's outputs written by check_tfjs.js (same
input tensors): features (1280), logits (5, pre-softmax) and probabilities; it also checks the traced
file against the eager network. The build and the tests never run this script; they use the
committed .pt file.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_NAME = "mobilenetv2-nsfwjs-embedding.pt"


# --------------------------------------------------------------------------------------- extraction

def extract_from_nsfwjs(package_dir, work):
    """Writes model.json and the shard .bin(s) of nsfwjs's mobilenet_v2 under work; returns work."""
    src = os.path.join(package_dir, "dist", "models", "mobilenet_v2")
    os.makedirs(work, exist_ok=True)
    js = r"""
const fs = require('fs'), path = require('path');
const [src, out] = process.argv.slice(1);
const model = require(path.resolve(src, 'model.min.js'));
const json = model.default || model;
fs.writeFileSync(path.join(out, 'model.json'), JSON.stringify(json));
for (const group of json.weightsManifest) {
  for (const p of group.paths) {
    const mod = require(path.resolve(src, p + '.min.js'));
    const b64 = (typeof mod === 'string') ? mod : mod.default;
    fs.writeFileSync(path.join(out, p + '.bin'), Buffer.from(b64, 'base64'));
  }
  group.paths = group.paths.map(p => p + '.bin');
}
fs.writeFileSync(path.join(out, 'model.json'), JSON.stringify(json));
"""
    subprocess.run(["node", "-e", js, src, work], check=True)
    return work


def load_weights(model_dir):
    """Returns (model.json dict, {keras weight name: float32 numpy array}), dequantised."""
    with open(os.path.join(model_dir, "model.json")) as f:
        mj = json.load(f)
    weights = {}
    for group in mj["weightsManifest"]:
        data = b"".join(open(os.path.join(model_dir, p), "rb").read() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            n = int(np.prod(spec["shape"])) if spec["shape"] else 1
            q = spec.get("quantization")
            if q is None:
                assert spec["dtype"] == "float32", spec
                arr = np.frombuffer(data, dtype="<f4", count=n, offset=offset).astype(np.float32)
                offset += 4 * n
            else:
                qdt = {"uint8": np.uint8, "uint16": np.dtype("<u2")}[q["dtype"]]
                raw = np.frombuffer(data, dtype=qdt, count=n, offset=offset)
                offset += raw.nbytes
                # tfjs io/weights_loader: v = q * scale + min (computed in float32 there)
                arr = (raw.astype(np.float32) * np.float32(q["scale"]) + np.float32(q["min"])).astype(np.float32)
            weights[spec["name"]] = arr.reshape(spec["shape"])
        assert offset == len(data), (offset, len(data))
    return mj, weights


# --------------------------------------------------------------------------------------- rebuild

class Add(nn.Module):
    """A block whose output is body(x) + x (Keras Add after project_BN)."""

    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return x + self.body(x)


def _conv(cfg, w, groups=1):
    k = tuple(cfg["kernel_size"])
    s = tuple(cfg["strides"])
    assert tuple(cfg.get("dilation_rate", (1, 1))) == (1, 1)
    if cfg["padding"] == "valid":
        pad = (0, 0)
    else:  # TF 'same' at stride 1 with an odd kernel is symmetric; stride-2 convs are 'valid' + ZeroPadding2D
        assert cfg["padding"] == "same" and s == (1, 1) and k[0] % 2 == 1 and k[1] % 2 == 1, cfg
        pad = ((k[0] - 1) // 2, (k[1] - 1) // 2)
    out_ch, in_per_group = w.shape[0], w.shape[1]
    conv = nn.Conv2d(in_per_group * groups, out_ch, k, stride=s, padding=pad, groups=groups,
                     bias=cfg["use_bias"])
    conv.weight.data.copy_(torch.from_numpy(w))
    return conv


def build_op(layer, W):
    """One Keras layer -> one torch module (or None for layers that are no-ops at inference)."""
    cls, cfg, name = layer["class_name"], layer["config"], layer["config"]["name"]
    if cls == "ZeroPadding2D":
        (t, b), (l, r) = cfg["padding"]
        return nn.ZeroPad2d((l, r, t, b))
    if cls == "Conv2D":
        assert cfg["activation"] == "linear", cfg
        w = W[name + "/kernel"].transpose(3, 2, 0, 1)  # HWIO -> OIHW
        conv = _conv(cfg, np.ascontiguousarray(w))
        if cfg["use_bias"]:
            conv.bias.data.copy_(torch.from_numpy(W[name + "/bias"]))
        return conv
    if cls == "DepthwiseConv2D":
        assert cfg["activation"] == "linear" and not cfg["use_bias"], cfg
        kh, kw, cin, mult = W[name + "/depthwise_kernel"].shape
        w = W[name + "/depthwise_kernel"].transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)
        return _conv(cfg, np.ascontiguousarray(w), groups=cin)
    if cls == "BatchNormalization":
        assert cfg["axis"] in (-1, 3) and cfg["center"] and cfg["scale"], cfg
        mean = W[name + "/moving_mean"]
        bn = nn.BatchNorm2d(mean.shape[0], eps=cfg["epsilon"], momentum=1.0 - cfg["momentum"])
        bn.weight.data.copy_(torch.from_numpy(W[name + "/gamma"]))
        bn.bias.data.copy_(torch.from_numpy(W[name + "/beta"]))
        bn.running_mean.copy_(torch.from_numpy(mean))
        bn.running_var.copy_(torch.from_numpy(W[name + "/moving_variance"]))
        return bn
    if cls == "ReLU":
        assert cfg["max_value"] == 6 and cfg.get("negative_slope", 0) == 0 and cfg.get("threshold", 0) == 0
        return nn.ReLU6()
    raise ValueError("unexpected layer " + cls + " " + name)


def block_of(name):
    """Keras layer name -> torchvision features index."""
    if name.startswith("Conv1") or name == "bn_Conv1":
        return 0
    if name.startswith("expanded_conv"):
        return 1
    if name.startswith("block_"):
        return int(name.split("_")[1]) + 1
    if name.startswith("Conv_1") or name == "out_relu":
        return 18
    return None


class MobileNetV2(nn.Module):
    def __init__(self, features, head):
        super().__init__()
        self.features = features
        self.head = head  # Linear/ReLU list for the 5-class head, or None

    def embed(self, x):
        return self.features(x).mean(dim=(2, 3))  # == AveragePooling2D(7x7) + Flatten at 224 px

    def logits(self, x):
        return self.head(self.embed(x))


class Embedding(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.features = features

    def forward(self, x):
        return self.features(x).mean(dim=(2, 3))


def rebuild(mj, W):
    cfg = mj["modelTopology"]["model_config"]["config"]
    layers = cfg["layers"]
    producer = {}  # layer name -> its single inbound layer names
    blocks = {}
    head_layers = []
    for layer in layers:
        name = layer["config"]["name"]
        inbound = [n[0] for n in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        producer[name] = inbound
        idx = block_of(name)
        if idx is None:
            head_layers.append(layer)
            continue
        blocks.setdefault(idx, []).append(layer)
    used = set()
    features = []
    for idx in sorted(blocks):
        ops, residual = [], False
        members = blocks[idx]
        first_input = producer[members[0]["config"]["name"]]
        prev = members[0]["config"]["name"]
        for j, layer in enumerate(members):
            name = layer["config"]["name"]
            if layer["class_name"] == "Add":
                # the residual must add the block's input and the last op of the block
                assert j == len(members) - 1, name
                assert sorted(producer[name]) == sorted(first_input + [prev]), (name, producer[name])
                residual = True
                continue
            if j > 0:
                assert producer[name] == [prev], (name, producer[name], prev)  # a chain inside a block
            ops.append(build_op(layer, W))
            used.update(k for k in W if k.startswith(name + "/"))
            prev = name
        body = nn.Sequential(*ops)
        features.append(Add(body) if residual else body)
    assert len(features) == 19, len(features)
    features = nn.Sequential(*features)

    # head: AveragePooling2D -> Flatten -> Dense relu -> Dropout -> Dense relu -> Dropout -> Dense softmax
    kinds = [l["class_name"] for l in head_layers]
    assert kinds == ["InputLayer", "AveragePooling2D", "Flatten", "Dense", "Dropout", "Dense", "Dropout",
                     "Dense"], kinds
    pool = head_layers[1]["config"]
    assert pool["pool_size"] == [7, 7] and pool["strides"] == [7, 7] and pool["padding"] == "valid"
    head = []
    for layer in head_layers:
        if layer["class_name"] != "Dense":
            continue
        c = layer["config"]
        k = W[c["name"] + "/kernel"]
        lin = nn.Linear(k.shape[0], k.shape[1])
        lin.weight.data.copy_(torch.from_numpy(np.ascontiguousarray(k.T)))
        lin.bias.data.copy_(torch.from_numpy(W[c["name"] + "/bias"]))
        used.update([c["name"] + "/kernel", c["name"] + "/bias"])
        head.append(lin)
        if c["activation"] == "relu":
            head.append(nn.ReLU())
        else:
            assert c["activation"] == "softmax", c  # logits here; softmax applied outside
    missing = set(W) - used
    assert not missing, missing
    return MobileNetV2(features, nn.Sequential(*head)).eval()


# --------------------------------------------------------------------------------------- verify

def verify(net, traced, out_dir):
    """Compares with check_tfjs.js's outputs: index.json + <name>.input.f32 (NHWC, [0,1])."""
    with open(os.path.join(out_dir, "index.json")) as f:
        index = json.load(f)
    worst = {"features": 0.0, "logits": 0.0, "probabilities": 0.0, "traced": 0.0}
    print(f"{'image':<28} {'tfjs top':>16} {'torch top':>16} {'max|dfeat|':>11} {'max|dlogit|':>11} "
          f"{'max|dprob|':>11}")
    for item in index["images"]:
        x = np.fromfile(os.path.join(out_dir, item["input"]), dtype="<f4").reshape(1, 224, 224, 3)
        xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
        with torch.no_grad():
            feat = net.embed(xt)[0].numpy()
            logits = net.head(torch.from_numpy(feat)[None])[0].numpy()
            probs = torch.softmax(torch.from_numpy(logits), 0).numpy()
            tr = traced(xt)[0].numpy()
        d_feat = float(np.abs(feat - np.array(item["features"], dtype=np.float32)).max())
        d_log = float(np.abs(logits - np.array(item["logits"], dtype=np.float32)).max())
        d_prob = float(np.abs(probs - np.array(item["probabilities"], dtype=np.float32)).max())
        d_tr = float(np.abs(tr - feat).max())
        names = index["classes"]
        tf_top = names[int(np.argmax(item["probabilities"]))]
        t_top = names[int(np.argmax(probs))]
        print(f"{item['name']:<28} {tf_top + ' %.3f' % max(item['probabilities']):>16} "
              f"{t_top + ' %.3f' % probs.max():>16} {d_feat:>11.2e} {d_log:>11.2e} {d_prob:>11.2e}")
        worst["features"] = max(worst["features"], d_feat)
        worst["logits"] = max(worst["logits"], d_log)
        worst["probabilities"] = max(worst["probabilities"], d_prob)
        worst["traced"] = max(worst["traced"], d_tr)
        assert tf_top == t_top
    print("max abs diff over %d images: features %.2e (feature scale: max %.2f), logits %.2e, "
          "probabilities %.2e; traced file vs eager features %.2e"
          % (len(index["images"]), worst["features"], index.get("feature_max", float("nan")),
             worst["logits"], worst["probabilities"], worst["traced"]))
    return worst


def main():
    ap = argparse.ArgumentParser()
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--nsfwjs", help="the unpacked nsfwjs tarball (its package/ folder)")
    src.add_argument("--model-json", help="a TF.js layers folder: model.json + shard .bin files")
    ap.add_argument("--work", default="/tmp/nsfwjs-mobilenetv2", help="where --nsfwjs extracts to")
    ap.add_argument("--out", default=os.path.join(HERE, OUT_NAME))
    ap.add_argument("--verify", help="check_tfjs.js output folder to compare with")
    args = ap.parse_args()
    torch.manual_seed(0)
    model_dir = extract_from_nsfwjs(args.nsfwjs, args.work) if args.nsfwjs else args.model_json
    mj, W = load_weights(model_dir)
    print(f"{len(W)} weight tensors, {sum(v.size for v in W.values())} values from {model_dir}")
    net = rebuild(mj, W)
    emb = Embedding(net.features).eval()
    example = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        traced = torch.jit.trace(emb, example)
    torch.jit.save(traced, args.out)
    loaded = torch.jit.load(args.out)
    with torch.no_grad():
        batch = torch.rand(3, 3, 224, 224)
        assert loaded(batch).shape == (3, 1280)
        assert torch.allclose(loaded(batch), emb(batch), atol=1e-5)
    n_params = sum(p.numel() for p in emb.parameters())
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1e6:.1f} MB, {n_params} parameters, "
          f"output (N, 1280))")
    if args.verify:
        verify(net, loaded, args.verify)


if __name__ == "__main__":
    sys.exit(main())
