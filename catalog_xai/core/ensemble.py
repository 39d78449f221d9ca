"""A trained CNN ensemble: the models plus the one framing (input size, crop, framing) they all share."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .models import GalaxyNet, ModelSpec


@dataclass
class Ensemble:
    """Models that see the same framing (input size and crop) and give 37 logits each.

    Raises
    ------
    ValueError
        On construction, if there are no models or they differ in input size, crop or framing.
    """

    models: list[GalaxyNet]
    manifest: dict = field(default_factory=dict)
    compiled: list | None = None  # torch.compile'd members, when asked for

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
        for m in self.models:
            m.to(device=device, memory_format=memory_format)
        return self

    @torch.inference_mode()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (M, B, 37) vote fractions (sigmoid of the logits)."""
        return torch.stack([torch.sigmoid(m(x).float()) for m in self.members])

    def __len__(self) -> int:
        return len(self.models)

    def compile(self, **kwargs) -> Ensemble:
        """Use torch.compile'd members from now on (kwargs go to torch.compile)."""
        self.compiled = [torch.compile(m, **kwargs) for m in self.models]
        return self

    @property
    def members(self) -> list[nn.Module]:
        """The callables to run: compiled members if compiled, else the models."""
        return list(self.compiled or self.models)
