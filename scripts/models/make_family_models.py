#!/usr/bin/env python3
"""Build a zoo of small TRAINED Fashion-MNIST classifiers, one per CNN family, export them to ONNX and measure
PyTorch's own FX post-training quantization on them as a reference.

Writes into test/fixtures/families/:
  <name>.onnx                  the exported model (some families also get a second export at another opset)
  <name>.json                  metadata: family, opset, layout, input/output names, params, float accuracy (torch),
                               FX int8 reference (accuracy, agreement with float, logit SQNR), data files used
  torch_logits/<name>.float32  torch float outputs on the 1000 test images, raw little-endian float32 [1000, 10]
                               (the same tensor the ONNX graph outputs: probabilities for paddle_like, whose
                               pre-softmax logits are in torch_logits/paddle_like.presoftmax.float32)
  index.json                   summary of all of the above

Usage:  /usr/bin/python3 scripts/models/make_family_models.py [name ...] [--epochs N] [--max-steps N]
        (no names: build all; names: rebuild only those and merge them into index.json)

Data: Fashion-MNIST IDX gz files. Training: the 60k training set (default /usr/share/datasets/fashion-mnist);
calibration: the first 256 images of <shared>/data/fmnist/calib1000-images-idx3-ubyte.gz; test: the first 1000
of <shared>/data/fmnist/t10k-images-idx3-ubyte.gz (<shared> = ../shared next to the repository, or $QI_SHARED).
Preprocessing: x/255, (x - 0.2860)/0.3530, NCHW float32 [N, 1, 28, 28].
"""
import argparse
import collections
import copy
import gzip
import json
import math
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import onnx
from onnx import helper

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "families"
SHARED = Path(os.environ.get("QI_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data"
TRAIN_DIR = Path(os.environ.get("QI_FMNIST_TRAIN", "/usr/share/datasets/fashion-mnist"))
CALIB_FILE = "fmnist/calib1000-images-idx3-ubyte.gz"
TEST_FILE = "fmnist/t10k-images-idx3-ubyte.gz"
MEAN, STD = 0.2860, 0.3530
N_CALIB, N_TEST = 256, 1000
BATCH = 128


# ----------------------------------------------------------------------------------------------------------- data

def read_idx(path):
    """IDX (big-endian header: 0, 0, dtype code, ndim, then ndim uint32 dims) inside gzip."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, dtype_code, ndim = int.from_bytes(raw[0:2], "big"), raw[2], raw[3]
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} bytes of data for dims {dims}")
    return data.reshape(dims)


def preprocess(images_u8):
    x = images_u8.astype(np.float32) / 255.0
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return torch.from_numpy(x[:, None, :, :].astype(np.float32))


def labels_path(images_path):
    return Path(str(images_path).replace("images-idx3", "labels-idx1"))


def load_split(images_path, count=None):
    xs, ys = read_idx(images_path), read_idx(labels_path(images_path))
    if count is not None:
        xs, ys = xs[:count], ys[:count]
    return preprocess(xs), torch.from_numpy(ys.astype(np.int64))


# --------------------------------------------------------------------------------------------- building blocks

class ConvBNAct(nn.Sequential):
    """conv (no bias) → BatchNorm → activation (act=None: linear)."""

    def __init__(self, cin, cout, k=3, stride=1, groups=1, act=nn.ReLU, padding=None):
        layers = collections.OrderedDict()
        layers["conv"] = nn.Conv2d(cin, cout, k, stride, (k - 1) // 2 if padding is None else padding,
                                   groups=groups, bias=False)
        layers["bn"] = nn.BatchNorm2d(cout)
        if act is not None:
            layers["act"] = act()
        super().__init__(layers)


class Swish(nn.Module):
    """SiLU written out, so that it exports as Sigmoid + Mul."""

    def forward(self, x):
        return x * torch.sigmoid(x)


class _PaddleHardSigmoidFn(torch.autograd.Function):
    """clamp(0.2 x + 0.5, 0, 1), exported as one ONNX HardSigmoid(alpha=0.2, beta=0.5) node, as paddle2onnx does."""

    @staticmethod
    def forward(ctx, x):
        return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)

    @staticmethod
    def symbolic(g, x):
        return g.op("HardSigmoid", x, alpha_f=0.2, beta_f=0.5)


class PaddleHardSigmoid(nn.Module):
    """Paddle's hardsigmoid (slope 0.2, offset 0.5; torch's nn.Hardsigmoid is slope 1/6). Trained and
    FX-quantized as the clamp formula; exported through the custom symbolic when `onnx_export` is set."""

    onnx_export = False

    def forward(self, x):
        if PaddleHardSigmoid.onnx_export:
            return _PaddleHardSigmoidFn.apply(x)
        return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)


class SqueezeExcite(nn.Module):
    """AdaptiveAvgPool → conv1x1 → act → conv1x1 → gate → Mul with the feature map."""

    def __init__(self, channels, squeeze, act=nn.ReLU, gate=nn.Hardsigmoid):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.act = act()
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.gate = gate()

    def forward(self, x):
        s = self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))
        return x * s


def make_divisible(v, d=8):
    return max(d, int(v + d / 2) // d * d)


class ClassifierHead(nn.Module):
    """global average pool → flatten → linear."""

    def __init__(self, cin, classes=10):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(x), 1))


# ------------------------------------------------------------------------------------------------ 1. ResNet

class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:  # projection shortcut (option B)
            self.downsample = nn.Sequential(collections.OrderedDict(
                conv=nn.Conv2d(cin, cout, 1, stride, bias=False), bn=nn.BatchNorm2d(cout)))
        self.relu2 = nn.ReLU()

    def forward(self, x):
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu2(out + shortcut)


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = ConvBNAct(1, 16, 3, 2)                                     # 14x14
        self.blocks = nn.Sequential(BasicBlock(16, 16, 1), BasicBlock(16, 32, 2), BasicBlock(32, 64, 2))
        self.head = ClassifierHead(64)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


# --------------------------------------------------------------------------------------------------- 2. VGG

class VGGStage(nn.Module):
    def __init__(self, cin, cout, convs):
        super().__init__()
        for i in range(convs):
            self.add_module(f"conv{i + 1}", nn.Conv2d(cin if i == 0 else cout, cout, 3, 1, 1, bias=False))
            self.add_module(f"bn{i + 1}", nn.BatchNorm2d(cout))
            self.add_module(f"relu{i + 1}", nn.ReLU())
        self.convs = convs
        self.pool = nn.MaxPool2d(2, 2)

    def forward(self, x):
        for i in range(self.convs):
            x = getattr(self, f"relu{i + 1}")(getattr(self, f"bn{i + 1}")(getattr(self, f"conv{i + 1}")(x)))
        return self.pool(x)


class VGG(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = ConvBNAct(1, 16, 3, 1)                                     # 28x28
        self.stem_pool = nn.MaxPool2d(2, 2)                                    # 14
        self.blocks = nn.Sequential(VGGStage(16, 32, 1), VGGStage(32, 48, 2))  # 7, 3
        self.flatten = nn.Flatten(1)
        self.classifier = nn.Sequential(collections.OrderedDict(
            fc1=nn.Linear(48 * 3 * 3, 128), relu=nn.ReLU(), dropout=nn.Dropout(0.3), fc2=nn.Linear(128, 10)))

    def forward(self, x):
        x = self.blocks(self.stem_pool(self.stem(x)))
        return self.classifier(self.flatten(x))


# ------------------------------------------------------------------------------------------- 3. MobileNetV2

class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_residual = stride == 1 and cin == cout
        self.expand = ConvBNAct(cin, hidden, 1, act=nn.ReLU6) if expand != 1 else None
        self.dw = ConvBNAct(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6)
        self.project = ConvBNAct(hidden, cout, 1, act=None)                    # linear bottleneck

    def forward(self, x):
        out = x if self.expand is None else self.expand(x)
        out = self.project(self.dw(out))
        return x + out if self.use_residual else out


class MobileNetV2(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = ConvBNAct(1, 16, 3, 2, act=nn.ReLU6)                      # 14
        self.blocks = nn.Sequential(
            InvertedResidual(16, 16, 1, 1), InvertedResidual(16, 24, 2, 4), InvertedResidual(24, 24, 1, 4),
            InvertedResidual(24, 32, 2, 4), InvertedResidual(32, 32, 1, 4))
        self.last = ConvBNAct(32, 128, 1, act=nn.ReLU6)
        self.head = ClassifierHead(128)

    def forward(self, x):
        return self.head(self.last(self.blocks(self.stem(x))))


# ------------------------------------------------------------------------------------------- 4. MobileNetV3

class MBv3Block(nn.Module):
    def __init__(self, cin, hidden, cout, k, stride, se, act, gate=nn.Hardsigmoid):
        super().__init__()
        self.use_residual = stride == 1 and cin == cout
        self.expand = ConvBNAct(cin, hidden, 1, act=act) if hidden != cin else None
        self.dw = ConvBNAct(hidden, hidden, k, stride, groups=hidden, act=act)
        self.se = SqueezeExcite(hidden, make_divisible(hidden // 4), nn.ReLU, gate) if se else None
        self.project = ConvBNAct(hidden, cout, 1, act=None)

    def forward(self, x):
        out = x if self.expand is None else self.expand(x)
        out = self.dw(out)
        if self.se is not None:
            out = self.se(out)
        out = self.project(out)
        return x + out if self.use_residual else out


class MobileNetV3(nn.Module):
    def __init__(self, relu=nn.ReLU, gate=nn.Hardsigmoid, with_softmax=False):
        super().__init__()
        HS = nn.Hardswish
        self.stem = ConvBNAct(1, 16, 3, 2, act=HS)                             # 14
        self.blocks = nn.Sequential(
            MBv3Block(16, 16, 16, 3, 1, True, relu, gate),
            MBv3Block(16, 64, 24, 3, 2, False, relu, gate),                   # 7
            MBv3Block(24, 72, 24, 3, 1, False, relu, gate),
            MBv3Block(24, 96, 40, 5, 2, True, HS, gate),                      # 4
            MBv3Block(40, 120, 40, 5, 1, True, HS, gate))
        self.last = ConvBNAct(40, 160, 1, act=HS)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(collections.OrderedDict(
            fc1=nn.Linear(160, 128), act=HS(), dropout=nn.Dropout(0.2), fc2=nn.Linear(128, 10)))
        self.with_softmax = with_softmax   # only ever set for the ONNX export of paddle_like
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        x = self.pool(self.last(self.blocks(self.stem(x))))
        x = self.classifier(torch.flatten(x, 1))
        return self.softmax(x) if self.with_softmax else x


# ------------------------------------------------------------------------------------------ 5. EfficientNet

class MBConv(nn.Module):
    """EfficientNet MBConv: expand 1x1 → depthwise → SE(sigmoid) → project 1x1, SiLU, residual."""

    def __init__(self, cin, cout, k, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_residual = stride == 1 and cin == cout
        self.expand = ConvBNAct(cin, hidden, 1, act=Swish) if expand != 1 else None
        self.dw = ConvBNAct(hidden, hidden, k, stride, groups=hidden, act=Swish)
        self.se = SqueezeExcite(hidden, max(4, cin // 4), Swish, nn.Sigmoid)
        self.project = ConvBNAct(hidden, cout, 1, act=None)

    def forward(self, x):
        out = x if self.expand is None else self.expand(x)
        out = self.project(self.se(self.dw(out)))
        return x + out if self.use_residual else out


class EfficientNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = ConvBNAct(1, 16, 3, 2, act=Swish)                          # 14
        self.blocks = nn.Sequential(
            MBConv(16, 16, 3, 1, 1), MBConv(16, 24, 3, 2, 3), MBConv(24, 24, 3, 1, 3),
            MBConv(24, 40, 5, 2, 4), MBConv(40, 40, 5, 1, 4))
        self.last = ConvBNAct(40, 128, 1, act=Swish)
        self.dropout = nn.Dropout(0.2)
        self.head = ClassifierHead(128)

    def forward(self, x):
        return self.head(self.dropout(self.last(self.blocks(self.stem(x)))))


# -------------------------------------------------------------------------------------------- 6. SqueezeNet

class Fire(nn.Module):
    def __init__(self, cin, squeeze, e1, e3):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.squeeze_act = nn.ReLU()
        self.expand1x1 = nn.Conv2d(squeeze, e1, 1)
        self.expand1x1_act = nn.ReLU()
        self.expand3x3 = nn.Conv2d(squeeze, e3, 3, padding=1)
        self.expand3x3_act = nn.ReLU()

    def forward(self, x):
        x = self.squeeze_act(self.squeeze(x))
        return torch.cat([self.expand1x1_act(self.expand1x1(x)), self.expand3x3_act(self.expand3x3(x))], 1)


class SqueezeNet(nn.Module):
    """SqueezeNet 1.1 layout (no BatchNorm, biased convs); classifier = conv1x1 to the classes, then global
    average pool, as in the original (without its final ReLU)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(collections.OrderedDict(conv=nn.Conv2d(1, 16, 3, 1, 1), act=nn.ReLU()))
        self.blocks = nn.Sequential(
            nn.MaxPool2d(3, 2, ceil_mode=True),                                # 28 -> 14 (ceil matters)
            Fire(16, 8, 24, 24), Fire(48, 12, 32, 32),
            nn.MaxPool2d(3, 2, ceil_mode=True),                                # 14 -> 7 (ceil matters)
            Fire(64, 16, 48, 48), Fire(96, 24, 48, 48),
            nn.MaxPool2d(3, 2, ceil_mode=True),                                # 3
            Fire(96, 32, 64, 64))
        self.dropout = nn.Dropout(0.3)
        self.classifier = nn.Conv2d(128, 10, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        # without BatchNorm the default init trains too slowly for one epoch: He init, as torchvision does
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.classifier.weight, 0.0, 0.01)

    def forward(self, x):
        x = self.classifier(self.dropout(self.blocks(self.stem(x))))
        return torch.flatten(self.pool(x), 1)


# --------------------------------------------------------------------------------------------- 7. GoogLeNet

class Inception(nn.Module):
    def __init__(self, cin, c1, c3r, c3, c5r, c5, pool_proj, double3x3=False):
        super().__init__()
        self.branch1 = ConvBNAct(cin, c1, 1)
        self.branch2 = nn.Sequential(ConvBNAct(cin, c3r, 1), ConvBNAct(c3r, c3, 3))
        if double3x3:
            self.branch3 = nn.Sequential(ConvBNAct(cin, c5r, 1), ConvBNAct(c5r, c5, 3), ConvBNAct(c5, c5, 3))
        else:
            self.branch3 = nn.Sequential(ConvBNAct(cin, c5r, 1), ConvBNAct(c5r, c5, 5))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), ConvBNAct(cin, pool_proj, 1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class GoogLeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = ConvBNAct(1, 32, 3, 2)                                     # 14
        self.blocks = nn.Sequential(
            Inception(32, 16, 12, 16, 8, 8, 8),                                # 48
            nn.AvgPool2d(2),                                                   # 7
            Inception(48, 24, 24, 32, 8, 16, 16, double3x3=True),              # 88
            Inception(88, 32, 24, 48, 8, 16, 16))                              # 112
        self.dropout = nn.Dropout(0.2)
        self.head = ClassifierHead(112)

    def forward(self, x):
        return self.head(self.dropout(self.blocks(self.stem(x))))


# ---------------------------------------------------------------------------------------------- 8. DenseNet

class DenseLayer(nn.Module):
    """pre-activation bottleneck: BN → ReLU → conv1x1 → BN → ReLU → conv3x3 (norm1 follows a Concat)."""

    def __init__(self, cin, growth, bn_size):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, 1, 1, bias=False)

    def forward(self, x):
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))


class DenseBlock(nn.Module):
    def __init__(self, cin, layers, growth, bn_size):
        super().__init__()
        self.layers = nn.ModuleList(DenseLayer(cin + i * growth, growth, bn_size) for i in range(layers))

    def forward(self, x):
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


class Transition(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm = nn.BatchNorm2d(cin)
        self.relu = nn.ReLU()
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.pool = nn.AvgPool2d(2)

    def forward(self, x):
        return self.pool(self.conv(self.relu(self.norm(x))))


class DenseNet(nn.Module):
    def __init__(self, growth=12, bn_size=2):
        super().__init__()
        self.stem = nn.Sequential(collections.OrderedDict(conv=nn.Conv2d(1, 16, 3, 2, 1, bias=False)))  # 14
        self.blocks = nn.Sequential(
            DenseBlock(16, 3, growth, bn_size),                                # 52
            Transition(52, 32),                                                # 7
            DenseBlock(32, 3, growth, bn_size))                                # 68
        self.norm = nn.BatchNorm2d(68)
        self.relu = nn.ReLU()
        self.head = ClassifierHead(68)

    def forward(self, x):
        return self.head(self.relu(self.norm(self.blocks(self.stem(x)))))


# ------------------------------------------------------------------------------------------ 9. ShuffleNetV2

def channel_shuffle(x, groups: int):
    # x.size(i) one at a time (not `b, c, h, w = x.size()`), so that torch.fx can trace it
    b, c, h, w = x.size(0), x.size(1), x.size(2), x.size(3)
    x = x.view(b, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(b, c, h, w)


class ShuffleUnit(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.stride = stride
        self.half = half = cout // 2
        if stride > 1:
            self.branch1 = nn.Sequential(ConvBNAct(cin, cin, 3, stride, groups=cin, act=None),
                                         ConvBNAct(cin, half, 1))
        else:
            self.branch1 = None
        in2 = cin if stride > 1 else half
        self.branch2 = nn.Sequential(ConvBNAct(in2, half, 1),
                                     ConvBNAct(half, half, 3, stride, groups=half, act=None),
                                     ConvBNAct(half, half, 1))

    def forward(self, x):
        if self.branch1 is None:
            # x.split(C/2) rather than x.chunk(2): torch 1.13 exports chunk at opset >= 11 as Shape/Div/Slice
            parts = x.split(self.half, dim=1)
            out = torch.cat((parts[0], self.branch2(parts[1])), 1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), 1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = ConvBNAct(1, 24, 3, 2)                                     # 14
        self.blocks = nn.Sequential(
            ShuffleUnit(24, 48, 2), ShuffleUnit(48, 48, 1), ShuffleUnit(48, 48, 1),   # 7
            ShuffleUnit(48, 96, 2), ShuffleUnit(96, 96, 1))                            # 4
        self.last = ConvBNAct(96, 128, 1)
        self.head = ClassifierHead(128)

    def forward(self, x):
        return self.head(self.last(self.blocks(self.stem(x))))


# ------------------------------------------------------------------------------------------------ 10. RegNet

class XBlock(nn.Module):
    """RegNetX-style bottleneck (ratio 1) with SE, as in RegNetY: 1x1 → group 3x3 (group width 8) → SE → 1x1."""

    def __init__(self, cin, cout, stride, group_width=8):
        super().__init__()
        self.conv1 = ConvBNAct(cin, cout, 1)
        self.conv2 = ConvBNAct(cout, cout, 3, stride, groups=cout // group_width)
        self.se = SqueezeExcite(cout, max(4, cin // 4), nn.ReLU, nn.Sigmoid)
        self.conv3 = ConvBNAct(cout, cout, 1, act=None)
        self.downsample = ConvBNAct(cin, cout, 1, stride, act=None) if stride != 1 or cin != cout else None
        self.relu = nn.ReLU()

    def forward(self, x):
        out = self.conv3(self.se(self.conv2(self.conv1(x))))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class RegNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = ConvBNAct(1, 16, 3, 2)                                     # 14
        self.blocks = nn.Sequential(XBlock(16, 32, 2), XBlock(32, 32, 1),      # 7, groups 4
                                    XBlock(32, 64, 2), XBlock(64, 64, 1))      # 4, groups 8
        self.head = ClassifierHead(64)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


# ------------------------------------------------------------------------------------------------ 11. MNASNet

class MnasBlock(nn.Module):
    def __init__(self, cin, cout, k, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_residual = stride == 1 and cin == cout
        self.expand = ConvBNAct(cin, hidden, 1)
        self.dw = ConvBNAct(hidden, hidden, k, stride, groups=hidden)
        self.project = ConvBNAct(hidden, cout, 1, act=None)

    def forward(self, x):
        out = self.project(self.dw(self.expand(x)))
        return x + out if self.use_residual else out


class MNASNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = ConvBNAct(1, 16, 3, 2)                                     # 14
        self.sep = nn.Sequential(ConvBNAct(16, 16, 3, groups=16), ConvBNAct(16, 16, 1, act=None))
        self.blocks = nn.Sequential(
            MnasBlock(16, 24, 3, 2, 3), MnasBlock(24, 24, 3, 1, 3),           # 7
            MnasBlock(24, 40, 5, 2, 3), MnasBlock(40, 40, 5, 1, 6))           # 4
        self.last = ConvBNAct(40, 128, 1)
        self.dropout = nn.Dropout(0.2)
        self.head = ClassifierHead(128)

    def forward(self, x):
        return self.head(self.dropout(self.last(self.blocks(self.sep(self.stem(x))))))


# ----------------------------------------------------------------------------------------------- 12. ConvNeXt

class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of an NCHW tensor (permute to NHWC, LayerNorm(C), permute back)."""

    def __init__(self, channels, eps=1e-6):
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=eps)

    def forward(self, x):
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    def __init__(self, c, layer_scale=0.1):
        super().__init__()
        self.dwconv = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c, eps=1e-6)
        self.pwconv1 = nn.Linear(c, 4 * c)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * c, c)
        self.gamma = nn.Parameter(torch.full((c,), layer_scale))

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)                                 # NHWC
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        y = (self.gamma * y).permute(0, 3, 1, 2)                               # NCHW
        return x + y


class ConvNeXt(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(collections.OrderedDict(
            conv=nn.Conv2d(1, 32, 4, 4), norm=LayerNorm2d(32)))                # 7 (patchify 4x4)
        self.blocks = nn.Sequential(
            ConvNeXtBlock(32), ConvNeXtBlock(32),
            nn.Sequential(collections.OrderedDict(norm=LayerNorm2d(32), conv=nn.Conv2d(32, 64, 2, 2))),  # 3
            ConvNeXtBlock(64), ConvNeXtBlock(64))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.norm = nn.LayerNorm(64, eps=1e-6)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = torch.flatten(self.pool(self.blocks(self.stem(x))), 1)
        return self.fc(self.norm(x))


# ------------------------------------------------------------------------------------------ 13. channels_last

class ResidualPair(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = ConvBNAct(c, c, 3)
        self.conv2 = ConvBNAct(c, c, 3, act=None)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(x + self.conv2(self.conv1(x)))


class ChannelsLastNet(nn.Module):
    """Takes NHWC [N, 28, 28, 1] input and transposes it first, as Keras models converted by tf2onnx do."""

    def __init__(self):
        super().__init__()
        self.stem = ConvBNAct(1, 16, 3, 2)                                     # 14
        self.blocks = nn.Sequential(ConvBNAct(16, 32, 3, 2), ResidualPair(32), ConvBNAct(32, 64, 3, 2))  # 7, 4
        self.head = ClassifierHead(64)

    def forward(self, x):
        x = x.permute(0, 3, 1, 2)
        return self.head(self.blocks(self.stem(x)))


# ------------------------------------------------------------------------------------------- 14. paddle_like

def paddle_like():
    """MobileNetV3-style as PaddleClas builds it: ReLU6 in the early blocks, Hardswish later, SE with paddle's
    hardsigmoid gate (slope 0.2)."""
    return MobileNetV3(relu=nn.ReLU6, gate=PaddleHardSigmoid)


# ----------------------------------------------------------------------------------------------- registry

# name: (family, builder, opset, layout, extra exports {suffix: opset}, characteristic ONNX ops, lr)
MODELS = collections.OrderedDict([
    ("resnet", ("resnet", ResNet, 13, "NCHW", {}, ["Conv", "Relu", "Add", "GlobalAveragePool", "Gemm"])),
    ("vgg", ("vgg", VGG, 7, "NCHW", {}, ["Conv", "Relu", "MaxPool", "Flatten", "Gemm"])),
    ("mobilenetv2", ("mobilenetv2", MobileNetV2, 11, "NCHW", {}, ["Conv", "Clip", "Add"])),
    ("mobilenetv3", ("mobilenetv3", MobileNetV3, 14, "NCHW", {},
                     ["Conv", "HardSwish", "HardSigmoid", "GlobalAveragePool", "Mul"])),
    ("efficientnet", ("efficientnet", EfficientNet, 12, "NCHW", {}, ["Conv", "Sigmoid", "Mul", "Add"])),
    ("squeezenet", ("squeezenet", SqueezeNet, 9, "NCHW", {}, ["Conv", "Relu", "Concat", "MaxPool"])),
    ("googlenet", ("googlenet", GoogLeNet, 10, "NCHW", {}, ["Conv", "Concat", "MaxPool", "AveragePool"])),
    ("densenet", ("densenet", DenseNet, 11, "NCHW", {},
                  ["Conv", "BatchNormalization", "Concat", "AveragePool"])),
    ("shufflenetv2", ("shufflenetv2", ShuffleNetV2, 11, "NCHW", {"opset13": 13},
                      ["Conv", "Split", "Concat", "Reshape", "Transpose"])),
    ("regnet", ("regnet", RegNet, 13, "NCHW", {}, ["Conv", "Sigmoid", "Mul", "Add"])),
    ("mnasnet", ("mnasnet", MNASNet, 12, "NCHW", {}, ["Conv", "Relu", "Add"])),
    ("convnext", ("convnext", ConvNeXt, 17, "NCHW", {"opset13": 13},
                  ["Conv", "Transpose", "MatMul", "Erf", "Add"])),
    ("channels_last", ("resnet", ChannelsLastNet, 13, "NHWC", {}, ["Transpose", "Conv", "Add"])),
    ("paddle_like", ("mobilenetv3", paddle_like, 9, "NCHW", {},
                     ["Conv", "BatchNormalization", "Clip", "HardSigmoid", "Mul", "Softmax", "Constant"])),
])
EXTRA_EPOCHS = {"squeezenet": 1}  # no BatchNorm: one epoch gives ~84 %, two ~88 %
EXTRA_OPS = {  # per exported file, beyond the list above
    "convnext": ["LayerNormalization"],
    "convnext_opset13": ["ReduceMean", "Sqrt", "Div", "Pow"],
}


# ---------------------------------------------------------------------------------------------- training

def to_layout(x, layout):
    return x.permute(0, 2, 3, 1).contiguous() if layout == "NHWC" else x


def _linear_as_conv1x1(self, x):
    """nn.Linear.forward during training only: Debian's torch links the reference BLAS (aten::mm ~1 GFLOP/s),
    while 1x1 convolutions go through oneDNN; same math, several times faster for the ConvNeXt MLPs."""
    shape = x.shape
    y = F.conv2d(x.reshape(-1, shape[-1], 1, 1), self.weight[:, :, None, None], self.bias)
    return y.reshape(*shape[:-1], self.out_features)


class fast_linear:
    def __enter__(self):
        self.saved = nn.Linear.forward
        nn.Linear.forward = _linear_as_conv1x1

    def __exit__(self, *exc):
        nn.Linear.forward = self.saved


def train(model, xs, ys, layout, epochs, max_steps, lr=3e-3, wd=1e-4):
    with fast_linear():
        return _train(model, xs, ys, layout, epochs, max_steps, lr, wd)


def _train(model, xs, ys, layout, epochs, max_steps, lr, wd):
    steps_per_epoch = math.ceil(len(xs) / BATCH)
    total = epochs * steps_per_epoch if max_steps is None else min(max_steps, epochs * steps_per_epoch)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.2)
    gen = torch.Generator().manual_seed(0)
    model.train()
    model.to(memory_format=torch.channels_last)  # oneDNN: up to ~2x faster on NHWC-strided tensors here
    step, running = 0, 0.0
    for _ in range(epochs):
        perm = torch.randperm(len(xs), generator=gen)
        for i in range(0, len(xs), BATCH):
            if step >= total:
                break
            idx = perm[i:i + BATCH]
            xb = xs[idx] if layout == "NHWC" else xs[idx].contiguous(memory_format=torch.channels_last)
            loss = F.cross_entropy(model(to_layout(xb, layout)), ys[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running = 0.98 * running + 0.02 * loss.item() if step else loss.item()
            step += 1
    model.to(memory_format=torch.contiguous_format)
    model.eval()
    return step, running


@torch.no_grad()
def predict(model, x, layout, batch=250):
    return torch.cat([model(to_layout(x[i:i + batch], layout)) for i in range(0, len(x), batch)])


def sqnr_db(f, q):
    f, q = f.double(), q.double()
    noise = ((f - q) ** 2).sum().item()
    return float("inf") if noise == 0 else 10.0 * math.log10((f ** 2).sum().item() / noise)


def fx_ptq(model, layout, calib, test_x, test_y, float_logits):
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    torch.backends.quantized.engine = "onednn"
    result = {"accuracy": None, "agreement": None, "logitSqnrDb": None, "error": None}
    try:
        qconfig_mapping = get_default_qconfig_mapping("onednn")
        example = (to_layout(calib[:1], layout),)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prepared = prepare_fx(copy.deepcopy(model).eval(), qconfig_mapping, example)
            with torch.no_grad():
                for i in range(0, len(calib), 64):
                    prepared(to_layout(calib[i:i + 64], layout))
            converted = convert_fx(prepared)
            q = predict(converted, test_x, layout)
        result["accuracy"] = (q.argmax(1) == test_y).float().mean().item()
        result["agreement"] = (q.argmax(1) == float_logits.argmax(1)).float().mean().item()
        result["logitSqnrDb"] = round(sqnr_db(float_logits, q), 3)
    except Exception as e:  # noqa: BLE001 — recorded in the metadata
        result["error"] = f"{type(e).__name__}: {e}"[:1000]
    return result


# ------------------------------------------------------------------------------------------------ export

def export(model, path, opset, layout, name, input_name="input", output_name="logits", paddle=False):
    dummy = torch.randn(2, 1, 28, 28)
    dummy = to_layout(dummy, layout)
    kwargs = dict(opset_version=opset, input_names=[input_name], output_names=[output_name],
                  dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}}, do_constant_folding=True)
    if paddle:
        kwargs.update(do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE,
                      dynamic_axes={input_name: {0: "p2o.DynamicDimension.0", 2: "p2o.DynamicDimension.1",
                                                 3: "p2o.DynamicDimension.2"},
                                    output_name: {0: "p2o.DynamicDimension.3"}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, dummy, str(path), **kwargs)
    m = onnx.load(str(path))
    # node names are the module paths (/blocks/blocks.0/conv1/Conv); drop the exporter's doc strings
    for n in m.graph.node:
        n.doc_string = ""
    if paddle:
        m = paddle_postprocess(m, input_name, output_name)
    onnx.save(m, str(path))
    return m


def paddle_postprocess(m, input_name, output_name):
    """Make the export look like paddle2onnx: every initializer as a Constant node, symbolic N/H/W dims."""
    g = m.graph
    consts = [helper.make_node("Constant", [], [init.name], name=f"p2o.Constant.{i}", value=init)
              for i, init in enumerate(g.initializer)]
    init_names = {init.name for init in g.initializer}
    nodes = consts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    kept = [i for i in g.input if i.name not in init_names]
    del g.input[:]
    g.input.extend(kept)
    del g.value_info[:]
    (inp,) = [i for i in g.input if i.name == input_name]
    dims = inp.type.tensor_type.shape.dim
    for d, v in zip(dims, ["p2o.DynamicDimension.0", 1, "p2o.DynamicDimension.1", "p2o.DynamicDimension.2"]):
        d.Clear()
        if isinstance(v, str):
            d.dim_param = v
        else:
            d.dim_value = v
    (out,) = [o for o in g.output if o.name == output_name]
    odims = out.type.tensor_type.shape.dim
    odims[0].Clear()
    odims[0].dim_param = "p2o.DynamicDimension.3"
    m.ir_version = 8
    m.producer_name = "PaddlePaddle"
    m.producer_version = ""
    m.doc_string = ("imitation of a paddle2onnx export (MobileNetV3-style), made from a PyTorch model by "
                    "scripts/models/make_family_models.py")
    return m


def check_onnx(m, path, name, opset, expect_ops):
    # on the proto, not the path: onnx 1.12's check_model(path, full_check=True) writes the shape-inferred
    # model back into the file
    onnx.checker.check_model(m, full_check=True)
    got_opset = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")][0]
    assert got_opset == opset, f"{name}: opset {got_opset}, wanted {opset}"
    counts = collections.Counter(n.op_type for n in m.graph.node)
    missing = [op for op in expect_ops if op not in counts]
    assert not missing, f"{name}: missing ops {missing} (have {dict(counts)})"
    return dict(sorted(counts.items()))


# --------------------------------------------------------------------------------------------------- main

def build(name, spec, data, args):
    family, builder, opset, layout, extras, ops = spec
    t0 = time.time()
    torch.manual_seed(0)
    np.random.seed(0)
    model = builder()
    params = sum(p.numel() for p in model.parameters())
    epochs = args.epochs + EXTRA_EPOCHS.get(name, 0)
    steps, loss = train(model, data["train_x"], data["train_y"], layout, epochs, args.max_steps)
    t_train = time.time() - t0
    test_x, test_y, calib = data["test_x"], data["test_y"], data["calib_x"]
    logits = predict(model, test_x, layout)
    acc = (logits.argmax(1) == test_y).float().mean().item()
    t1 = time.time()
    fx = fx_ptq(model, layout, calib, test_x, test_y, logits)
    t_fx = time.time() - t1

    paddle = name == "paddle_like"
    input_name, output_name = ("x", "softmax_0.tmp_0") if paddle else ("input", "logits")
    outputs = torch.softmax(logits, 1) if paddle else logits
    (OUT / "torch_logits").mkdir(parents=True, exist_ok=True)
    if paddle:
        logits.numpy().astype("<f4").tofile(OUT / "torch_logits" / f"{name}.presoftmax.float32")

    files = [(name, opset)] + [(f"{name}_{suffix}", o) for suffix, o in extras.items()]
    entries = []
    for fname, fopset in files:
        path = OUT / f"{fname}.onnx"
        if paddle:
            PaddleHardSigmoid.onnx_export = True
            model.with_softmax = True
        try:
            m = export(model, path, fopset, layout, fname, input_name, output_name, paddle)
        finally:
            PaddleHardSigmoid.onnx_export = False
            model.with_softmax = False
        counts = check_onnx(m, path, fname, fopset, ops + EXTRA_OPS.get(fname, []))
        if paddle:
            assert len(m.graph.initializer) == 0 and counts.get("BatchNormalization", 0) > 0
            assert any(n.op_type == "HardSigmoid" and any(a.name == "alpha" and abs(a.f - 0.2) < 1e-6
                                                          for a in n.attribute) for n in m.graph.node)
        outputs.numpy().astype("<f4").tofile(OUT / "torch_logits" / f"{fname}.float32")
        meta = collections.OrderedDict(
            name=fname, family=family, opset=fopset, layout=layout, input=input_name, output=output_name,
            inputShape=(["p2o.DynamicDimension.0", 1, "p2o.DynamicDimension.1", "p2o.DynamicDimension.2"]
                        if paddle else (["batch", 28, 28, 1] if layout == "NHWC" else ["batch", 1, 28, 28])),
            outputIsSoftmax=paddle, params=params, floatAccuracyTorch=round(acc, 4),
            fx=collections.OrderedDict((k, round(v, 4) if isinstance(v, float) and k != "logitSqnrDb" else v)
                                       for k, v in fx.items()),
            calibration={"file": CALIB_FILE, "count": N_CALIB}, test={"file": TEST_FILE, "count": N_TEST},
            mean=MEAN, std=STD, torchLogits=f"torch_logits/{fname}.float32",
            onnxBytes=path.stat().st_size, irVersion=m.ir_version, opTypes=counts,
            training={"epochs": epochs, "steps": steps, "finalLoss": round(loss, 4),
                      "threads": torch.get_num_threads(), "torch": torch.__version__},
        )
        if fname != name:
            meta["variantOf"] = name
        if paddle:
            meta["torchPresoftmaxLogits"] = f"torch_logits/{name}.presoftmax.float32"
            meta["notes"] = ("initializers are Constant nodes; BatchNormalization not folded; HardSigmoid "
                             "alpha=0.2; output is Softmax probabilities; fx.logitSqnrDb is on pre-softmax logits")
        if fname == "vgg":
            meta["notes"] = "opset 7: the exporter also lists every initializer as a graph input"
        (OUT / f"{fname}.json").write_text(json.dumps(meta, indent=2) + "\n")
        entries.append(meta)
        print(f"  {fname}: opset {fopset}, {path.stat().st_size / 1024:.0f} KiB, ops {counts}", flush=True)
    dt = time.time() - t0
    fxs = (f"FX acc {fx['accuracy']:.4f} agree {fx['agreement']:.4f} SQNR {fx['logitSqnrDb']:.2f} dB"
           if fx["error"] is None else f"FX ERROR {fx['error'][:300]}")
    print(f"[{name}] params {params}, {steps} steps ({t_train:.0f}s), float acc {acc:.4f}, {fxs} "
          f"({t_fx:.0f}s); total {dt:.0f}s", flush=True)
    return entries


def write_index(entries):
    path = OUT / "index.json"
    old = json.loads(path.read_text()) if path.exists() else {"models": []}
    by_name = {e["name"]: e for e in old.get("models", [])}
    for e in entries:
        by_name[e["name"]] = e
    order = [n for base, spec in MODELS.items()
             for n in [base] + [f"{base}_{s}" for s in spec[4]]]
    models = [by_name[n] for n in order if n in by_name]
    index = collections.OrderedDict(
        generatedBy="scripts/models/make_family_models.py",
        dataset="Fashion-MNIST 28x28 grayscale, 10 classes",
        mean=MEAN, std=STD,
        calibration={"file": CALIB_FILE, "count": N_CALIB}, test={"file": TEST_FILE, "count": N_TEST},
        fxReference="torch.ao.quantization FX PTQ, engine onednn, get_default_qconfig_mapping('onednn')",
        models=[collections.OrderedDict(
            name=e["name"], file=f"{e['name']}.onnx", meta=f"{e['name']}.json", family=e["family"],
            opset=e["opset"], layout=e["layout"], input=e["input"], output=e["output"],
            outputIsSoftmax=e["outputIsSoftmax"], params=e["params"], floatAccuracyTorch=e["floatAccuracyTorch"],
            fx=e["fx"], torchLogits=e["torchLogits"]) for e in models])
    path.write_text(json.dumps(index, indent=2) + "\n")


def main():
    global OUT, N_TEST
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", help=f"models to build (default all): {', '.join(MODELS)}")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--max-steps", type=int, default=None, help="stop training early (smoke tests)")
    ap.add_argument("--threads", type=int, default=2,
                    help="torch threads (default 2; 1 is faster when another process is busy on a 2-core box)")
    ap.add_argument("--no-ort", action="store_true", help="skip the onnxruntime-node cross-check")
    ap.add_argument("--test-count", type=int, default=None,
                    help=f"score on this many test images (default {N_TEST}; 10000: the whole Fashion-MNIST test set)")
    ap.add_argument("--out", type=Path, default=None, help=f"write here instead of {OUT}")
    args = ap.parse_args()
    if args.out is not None:
        OUT = args.out
    if args.test_count is not None:
        N_TEST = args.test_count
    unknown = [n for n in args.names if n not in MODELS]
    if unknown:
        ap.error(f"unknown model(s) {unknown}; known: {list(MODELS)}")
    names = args.names or list(MODELS)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    train_x, train_y = load_split(TRAIN_DIR / "train-images-idx3-ubyte.gz")
    calib_x, _ = load_split(DATA / CALIB_FILE, N_CALIB)
    test_x, test_y = load_split(DATA / TEST_FILE, N_TEST)
    data = dict(train_x=train_x, train_y=train_y, calib_x=calib_x, test_x=test_x, test_y=test_y)
    print(f"data: train {tuple(train_x.shape)}, calib {tuple(calib_x.shape)}, test {tuple(test_x.shape)} "
          f"({time.time() - t0:.1f}s)", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    entries = []
    for name in names:
        entries += build(name, MODELS[name], data, args)
        write_index(entries)
    checker = Path(__file__).with_name("check_with_ort.js")
    if args.no_ort:
        pass
    elif shutil.which("node") and (ROOT / "node_modules" / "onnxruntime-node").exists():
        r = subprocess.run(["node", str(checker)] + [e["name"] for e in entries], cwd=ROOT)
        if r.returncode != 0:
            sys.exit(f"onnxruntime cross-check failed ({r.returncode})")
    else:
        print("onnxruntime-node not available: skipped the ONNX-vs-torch cross-check")
    print(f"done: {len(entries)} ONNX files in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
