"""The registry of interpolation networks, so that a profile's ``model: {type: adacof, ...}`` builds one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from vosvfi_core.registry import Registry

__all__ = ["MODELS", "register_model", "get_model", "list_models"]

MODELS: Registry[nn.Module] = Registry("model", builtins=("vosvfi_core.models.adacof", "vosvfi_core.models.flow_refine"))


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a keyword-only builder under ``name``; registering a name twice is a bug."""
    return MODELS.register(name)


def get_model(name: str, **config: Any) -> nn.Module:
    """Build the model registered as ``name`` with ``config`` as keyword arguments."""
    return MODELS.build({"type": name, **config})


def list_models() -> list[str]:
    return MODELS.names()
