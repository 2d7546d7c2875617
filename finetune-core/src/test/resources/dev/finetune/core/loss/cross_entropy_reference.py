"""PyTorch reference values for CrossEntropyTest (run by hand; the build never runs Python).

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch
    /tmp/venv/bin/python cross_entropy_reference.py

Prints the values CrossEntropyTest holds as constants: PyTorch's CrossEntropyLoss with class weights
and label smoothing on class indices, on probability targets, and timm's Mixup target with
SoftTargetCrossEntropy (written out here: timm is not installed), all in float64.
"""
import torch
import torch.nn.functional as F

torch.set_printoptions(precision=17)
logits = torch.tensor([[2.0, -1.0, 0.5, 0.0],
                       [0.1, 0.2, 0.3, 3.0],
                       [-2.0, 1.5, 0.0, 0.25]], dtype=torch.float64)
labels = torch.tensor([0, 3, 1])
weights = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64)
eps = 0.1
lam = 0.7
k = logits.shape[1]


def show(name, value):
    print(f"{name} = {value.item()!r}")


show("plain", F.cross_entropy(logits, labels))
show("weighted", F.cross_entropy(logits, labels, weight=weights))
show("smoothed", F.cross_entropy(logits, labels, label_smoothing=eps))
show("weightedSmoothed", F.cross_entropy(logits, labels, weight=weights, label_smoothing=eps))


# timm.data.mixup: one_hot and mixup_target (batch mode: the partner is the batch reversed)
def one_hot(x, num_classes, on_value=1.0, off_value=0.0):
    x = x.long().view(-1, 1)
    return torch.full((x.size()[0], num_classes), off_value, dtype=torch.float64).scatter_(1, x, on_value)


def mixup_target(target, num_classes, lam=1.0, smoothing=0.0):
    off_value = smoothing / num_classes
    on_value = 1.0 - smoothing + off_value
    y1 = one_hot(target, num_classes, on_value=on_value, off_value=off_value)
    y2 = one_hot(target.flip(0), num_classes, on_value=on_value, off_value=off_value)
    return y1 * lam + y2 * (1.0 - lam)


# timm.loss.SoftTargetCrossEntropy
def soft_target_cross_entropy(x, target):
    return torch.sum(-target * F.log_softmax(x, dim=-1), dim=-1).mean()


mixed = mixup_target(labels, k, lam, 0.0)
show("mixed", soft_target_cross_entropy(logits, mixed))
show("mixedSmoothedTimm", soft_target_cross_entropy(logits, mixup_target(labels, k, lam, eps)))
# PyTorch's own label smoothing on probability targets: the same value
show("mixedSmoothedTorch", F.cross_entropy(logits, mixed, label_smoothing=eps))
# with class weights this library divides by the targets' weight, sum_i sum_c w_c T_ic (PyTorch by N)
smoothed = mixed * (1 - eps) + eps / k
log_p = F.log_softmax(logits, dim=-1)
show("mixedWeightedSmoothed", (-(smoothed * log_p) * weights).sum() / (mixed * weights).sum())
show("mixedWeightedSmoothedTorchDividesByN", F.cross_entropy(logits, mixed, weight=weights, label_smoothing=eps))
