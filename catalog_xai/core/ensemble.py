"""A trained CNN ensemble: the models plus the one framing (input size, crop, framing) they all share."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .models import GalaxyNet, ModelSpec, output_fractions


@dataclass
class Ensemble:
    """Models that see the same framing (input size and crop) and give 37 outputs each
    (sigmoid or Dirichlet heads may be mixed: ``predict`` reads each as its spec says).

    Raises
    ------
    ValueError
        On construction, if there are no models or they differ in input size, crop or framing.
    """

    models: list[GalaxyNet]
    manifest: dict = field(default_factory=dict)
    compiled: list | None = None  # torch.compile'd members, when asked for
    folded: list[nn.Module] = field(default_factory=list, repr=False)  # the members run: batch norm folded

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("an ensemble needs at least one model")
        geo = {(m.spec.input_size, m.spec.crop_fraction, m.spec.framing) for m in self.models}
        if len(geo) != 1:
            raise ValueError(
                f"ensemble members must share input size, crop and framing to average their maps; got {sorted(geo)}"
            )
        for m in self.models:
            m.eval()
            m.requires_grad_(False)  # SmoothGrad needs input gradients only
        self.folded = [input_layer_in_fp32(fold_batchnorm(m)) for m in self.models]

    @property
    def spec(self) -> ModelSpec:
        return self.models[0].spec

    @property
    def framing(self) -> str:
        """How the members' training cutouts were framed, and so how inference must frame them."""
        return self.spec.framing

    @property
    def device(self) -> torch.device:
        return next(self.models[0].parameters()).device

    def to(self, device: str | torch.device, memory_format: torch.memory_format = torch.channels_last) -> Ensemble:
        for m in (*self.models, *self.folded):
            m.to(device=device, memory_format=memory_format)
        return self

    @torch.inference_mode()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (M, B, 37) cumulative vote fractions of each member."""
        return self.predict_moments(x)[0]

    @torch.inference_mode()
    def predict_moments(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(M, B, 37) cumulative fractions and (M, B, 37) per-question Dirichlet variances
        (NaN for members with sigmoid heads, which give no variance of their own)."""
        fracs, variances = [], []
        for model, run in zip(self.models, self.members):
            frac, var = output_fractions(run(x).float(), model.spec)
            fracs.append(frac)
            variances.append(torch.full_like(frac, float("nan")) if var is None else var)
        return torch.stack(fracs), torch.stack(variances)

    @torch.inference_mode()
    def embed(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) -> each member's (B, F_m) pooled last-layer features (seed 004)."""
        return [run.embed(x).float() for run in self.members]

    @property
    def heads(self) -> list[str]:
        return [m.spec.head for m in self.models]

    def __len__(self) -> int:
        return len(self.models)

    def compile(self, **kwargs) -> Ensemble:
        """Use torch.compile'd members from now on (kwargs go to torch.compile)."""
        self.compiled = [torch.compile(m, **kwargs) for m in self.folded]
        return self

    @property
    def members(self) -> list[nn.Module]:
        """The callables to run: the models with batch norm folded and the input layer kept in
        fp32 under autocast (compiled, if asked for).
        ``models`` keep their own weights and layers, to save and train."""
        return list(self.compiled or self.folded)


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A frozen copy of ``model`` in which every eval-mode BatchNorm2d that directly follows a
    convolution in an ``nn.Sequential`` is folded into that convolution's weights and bias.

    The same function up to float rounding, with one layer fewer to run forwards and backwards:
    in the shipped ensembles batch norm took a fifth of SmoothGrad's time.  Batch norms that
    follow something else (ResNetV2's pre-activations) stay.
    """
    model = copy.deepcopy(model).eval()

    def last_conv(m: nn.Module) -> nn.Conv2d | None:
        while isinstance(m, nn.Sequential) and len(m):
            m = m[-1]
        return m if isinstance(m, nn.Conv2d) else None

    def visit(m: nn.Module) -> None:
        if isinstance(m, nn.Sequential):
            for i in range(1, len(m)):
                conv, bn = last_conv(m[i - 1]), m[i]
                if conv is not None and type(bn) is nn.BatchNorm2d and bn.track_running_stats and not bn.training:
                    fused = fuse_conv_bn_eval(conv, bn)
                    conv.weight, conv.bias = fused.weight, fused.bias
                    m[i] = nn.Identity()
        for child in m.children():
            visit(child)

    visit(model)
    return model.requires_grad_(False)


class _InputConvFp32(torch.autograd.Function):
    """A frozen convolution in fp32 whose backward gives the input gradient only, as a transposed
    convolution: oneDNN's own backward for a 3-channel input is 2.4x slower on CPUs."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
        ctx.conv, ctx.in_hw = conv, x.shape[-2:]
        return nn.functional.conv2d(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        c = ctx.conv
        out_hw = grad.shape[-2:]
        extra = [n - ((o - 1) * s - 2 * p + d * (k - 1) + 1)  # rows/cols the strided forward skipped
                 for n, o, s, p, d, k in zip(ctx.in_hw, out_hw, c.stride, c.padding, c.dilation, c.kernel_size)]
        gx = nn.functional.conv_transpose2d(grad.float(), c.weight, None, c.stride, c.padding, tuple(extra),
                                            c.groups, c.dilation)
        return gx, None


class _Fp32Layer(nn.Module):
    """A layer that runs in fp32 even under autocast (and as itself otherwise)."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer
        # a frozen zero-padded convolution (the folded members' input layer) takes the fast backward
        self.plain_conv = (isinstance(layer, nn.Conv2d) and layer.padding_mode == "zeros"
                           and not isinstance(layer.padding, str) and not layer.weight.requires_grad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.is_autocast_enabled(x.device.type):
            return self.layer(x)
        with torch.autocast(x.device.type, enabled=False):
            return _InputConvFp32.apply(x.float(), self.layer) if self.plain_conv else self.layer(x.float())


def input_layer_in_fp32(model: nn.Module) -> nn.Module:
    """``model`` with its first convolution (the one that sees the image) wrapped to run in fp32
    under bf16 autocast; without autocast nothing changes.

    SmoothGrad's maps are the gradients that this layer's backward hands to the input.  In bf16
    that layer alone put an error of 0.7 % of the map's peak into the shipped ``saliency-real``
    maps, which averaging over noise samples does not remove (the same at N = 16 and 64), and
    moved 7 % of Algorithm 1's lengths by more than a pixel; in fp32 the error is 0.2 % and no
    length moves, for a tenth of the pass's time (docs/performance.md).  Its backward is a
    transposed convolution (``_InputConvFp32``), since only the input's gradient is wanted.
    """
    name = next((n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)), None)
    if name is not None:  # named_modules walks the layers in their order: the first is the input's
        parent, _, leaf = name.rpartition(".")
        setattr(model.get_submodule(parent), leaf, _Fp32Layer(model.get_submodule(name)))
    return model
