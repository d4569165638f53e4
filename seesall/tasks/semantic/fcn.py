"""FCN (Long et al. 2015): a classifier made fully convolutional.

"Convolutionalization": the classifier's final fully connected layer
(``Linear(C_feat, K)``) becomes a 1×1 convolution with the same weights, so the
classifier is applied at every position of the stride-32 feature map and yields
a coarse score map instead of one vector. FCN-16s/8s add 1×1 score layers on the
stride-16 and stride-8 features and sum the (bilinearly) upsampled scores; the
result is upsampled to the input size.
"""

from __future__ import annotations

import torch.nn.functional as F
import torchvision
from torch import Tensor, nn


def convolutionalize(fc: nn.Linear) -> nn.Conv2d:
    """A 1×1 Conv2d computing ``fc`` at every pixel: weight [K, C] -> [K, C, 1, 1]."""
    conv = nn.Conv2d(fc.in_features, fc.out_features, 1, bias=fc.bias is not None)
    conv.weight.data.copy_(fc.weight.data.view(fc.out_features, fc.in_features, 1, 1))
    if fc.bias is not None:
        conv.bias.data.copy_(fc.bias.data)
    return conv


class ResNetTrunk(nn.Module):
    """The convolutional part of a torchvision ResNet classifier (no pooling, no fc).

    ``forward(x)`` returns {"c3": stride 8, "c4": stride 16, "c5": stride 32};
    ``feature_specs`` lists (name, channels, stride).
    """

    def __init__(self, resnet: torchvision.models.ResNet) -> None:
        super().__init__()
        self.stem = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool)
        self.layer1, self.layer2 = resnet.layer1, resnet.layer2
        self.layer3, self.layer4 = resnet.layer3, resnet.layer4
        ch = [self._out_channels(getattr(resnet, f"layer{i}")) for i in (2, 3, 4)]
        self.feature_specs = [("c3", ch[0], 8), ("c4", ch[1], 16), ("c5", ch[2], 32)]

    @staticmethod
    def _out_channels(layer: nn.Sequential) -> int:
        convs = [m for m in layer[-1].modules() if isinstance(m, nn.Conv2d)]
        return convs[-1].out_channels

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        c2 = self.layer1(self.stem(x))
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        return {"c3": c3, "c4": c4, "c5": self.layer4(c4)}


class FCN(nn.Module):
    """Fully convolutional network: backbone + 1×1 score layers, fused and upsampled.

    Args:
        backbone: module with ``forward(x) -> dict[str, Tensor]`` and ``feature_specs``
            [(name, channels, stride)]; the deepest feature gets the main score layer.
        score: the 1×1 score layer on the deepest feature (``convolutionalize(fc)`` of the
            classifier, or a fresh ``Conv2d(C, num_classes, 1)``).
        skip_features: names of shallower features to fuse (FCN-16s: ("c4",);
            FCN-8s: ("c4", "c3"); FCN-32s: ()).
        edge_head: also predict a boundary logit map from the fused scores' features.
    """

    def __init__(self, *, backbone: nn.Module, score: nn.Conv2d,
                 skip_features: tuple[str, ...] = (), edge_head: bool = False) -> None:
        super().__init__()
        specs = {name: ch for name, ch, _ in backbone.feature_specs}
        deepest = max(backbone.feature_specs, key=lambda s: s[2])[0]
        if score.in_channels != specs[deepest]:
            raise ValueError(f"score layer expects {score.in_channels} channels, backbone "
                             f"feature '{deepest}' has {specs[deepest]}")
        for name in skip_features:
            if name not in specs:
                raise ValueError(f"skip feature '{name}' not in backbone features {list(specs)}")
        self.backbone, self.score, self.deepest = backbone, score, deepest
        self.skip_features = tuple(skip_features)
        k = score.out_channels
        self.skip_scores = nn.ModuleDict(
            {n: nn.Conv2d(specs[n], k, 1) for n in self.skip_features})
        for conv in self.skip_scores.values():  # as in FCN: skips start at zero
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)
        self.edge = nn.Conv2d(k, 1, 1) if edge_head else None

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        """images: Tensor[B, 3, H, W]. Returns ``logits`` Tensor[B, K, H, W] (and
        ``edge_logits`` Tensor[B, 1, H, W] with the edge head)."""
        feats = self.backbone(images)
        scores = self.score(feats[self.deepest])
        for name in self.skip_features:  # deep to shallow
            skip = self.skip_scores[name](feats[name])
            scores = skip + F.interpolate(scores, size=skip.shape[-2:], mode="bilinear",
                                          align_corners=False)
        logits = F.interpolate(scores, size=images.shape[-2:], mode="bilinear",
                               align_corners=False)
        out = {"logits": logits}
        if self.edge is not None:
            out["edge_logits"] = self.edge(logits)
        return out


def fcn_from_classifier(classifier: torchvision.models.ResNet, *, num_classes: int,
                        skip_features: tuple[str, ...] = ("c4", "c3"),
                        edge_head: bool = False) -> FCN:
    """FCN from a ResNet classifier. When ``num_classes`` equals the classifier's outputs,
    its fc layer is convolutionalized (same weights); otherwise a fresh 1×1 score layer."""
    trunk = ResNetTrunk(classifier)
    if classifier.fc.out_features == num_classes:
        score = convolutionalize(classifier.fc)
    else:
        score = nn.Conv2d(classifier.fc.in_features, num_classes, 1)
    return FCN(backbone=trunk, score=score, skip_features=skip_features, edge_head=edge_head)
