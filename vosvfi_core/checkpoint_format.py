"""Saving and loading AdaCoF checkpoints in the published format, with one-line errors.

A checkpoint is ``{'epoch': int, 'state_dict': ...}`` as the original code writes it. Ours add a
``'vosvfi'`` entry recording the architecture and the sampling mode the weights were trained
with; published checkpoints record nothing and load in ``legacy`` mode, the mode they were
trained in. Everything is loaded with ``weights_only=True``: no pickled code runs.

Training checkpoints also carry the optimiser state (twice the weights again, for Adamax). An
*inference* file (``model.pth``, from :func:`save_inference` or :func:`export_inference`) keeps the
weights alone, optionally stored as fp16 or bf16, with ``'vosvfi'`` metadata marking it as such
and a ``'provenance'`` entry (where the weights came from). :func:`load_checkpoint` reads all of
them alike and always hands back float32 weights.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.overrides import TorchFunctionMode

from vosvfi_core import __version__
from vosvfi_core.errors import VosvfiError
from vosvfi_core.io.atomic import atomic_path
from vosvfi_core.models.adacof import AdaCoFNet
from vosvfi_core.models.registry import MODELS

__all__ = [
    "INFERENCE_FORMAT",
    "check_checkpoint",
    "check_state_dict",
    "checkpoint_model_name",
    "export_inference",
    "inference_dtype",
    "load_checkpoint",
    "read_checkpoint",
    "save_checkpoint",
    "save_inference",
    "scored_models",
]

# The published AdaCoF checkpoints pair each kernel size with one dilation.
PUBLISHED_DILATION = {5: 1, 11: 2}
_KERNEL_HEAD_KEY = "get_kernel.moduleWeight1.7.weight"
INFERENCE_FORMAT = "inference"  # the value of checkpoint['vosvfi']['format'] in a weights-only file
_STORED_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# The file names of a training folder (vosvfi_core.training.checkpoint_folder): they say which file, not which model.
_GENERIC_STEMS = frozenset({"model", "last", "best"})


def _metadata(model: torch.nn.Module, **more: Any) -> dict[str, Any]:
    """The ``'vosvfi'`` entry of a checkpoint: what rebuilds the model, and this version.

    AdaCoF's settings go in the fields the published layout reads; another registered model
    stores its registry block (``model.block()``), which :func:`load_checkpoint` builds again.
    """
    if isinstance(model, AdaCoFNet):
        shape = {"model": "adacof", "kernel_size": model.kernel_size, "dilation": model.dilation, "sampling_mode": model.sampling_mode}
    else:
        block = model.block()  # type: ignore[operator]
        shape = {"model": block["type"], "block": block}
    return {**shape, "version": __version__, **more}


def save_checkpoint(path: str | os.PathLike[str], model: torch.nn.Module, *, epoch: int, extra: dict[str, Any] | None = None) -> None:
    """Write ``model`` atomically in the published layout plus our metadata (and ``extra``)."""
    checkpoint = {"epoch": int(epoch), "state_dict": model.state_dict(), "vosvfi": _metadata(model)}
    if extra is not None:
        checkpoint["extra"] = extra
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)


def inference_dtype(half: bool | str) -> torch.dtype:
    """The storage type that ``half`` asks for: False → float32, True or ``"fp16"`` → float16, ``"bf16"`` → bfloat16."""
    if half is False:
        return torch.float32
    if half is True:
        return torch.float16
    if isinstance(half, str) and half in _STORED_DTYPES:
        return _STORED_DTYPES[half]
    raise VosvfiError(f"half must be False, True, 'fp16' or 'bf16', got {half!r}")


def _plain(value: Any, where: str) -> Any:
    """``value`` as types a ``weights_only`` load accepts (paths become strings, tuples lists)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise TypeError(f"{where}: {type(value).__name__} cannot be stored in an inference file (use str, numbers, lists, dicts)")


def save_inference(model: torch.nn.Module, path: str | os.PathLike[str], *, provenance: Mapping[str, Any], half: bool | str = False) -> None:
    """Write ``model``'s weights alone (no optimiser state) atomically, as float32 or ``half`` (see :func:`inference_dtype`).

    ``provenance`` says where the weights come from (run, step, epoch, source checkpoint …): plain
    values only. Its ``epoch``, when given, is also stored at the top level, as the published
    checkpoints have it.
    """
    dtype = inference_dtype(half)
    state_dict = {key: value.detach().to("cpu", dtype) if value.is_floating_point() else value.detach().cpu() for key, value in model.state_dict().items()}
    checkpoint: dict[str, Any] = {
        "state_dict": state_dict,
        "vosvfi": _metadata(model, format=INFERENCE_FORMAT, dtype=str(dtype).removeprefix("torch.")),
        "provenance": _plain(dict(provenance), "provenance"),
    }
    if isinstance(provenance.get("epoch"), int):
        checkpoint["epoch"] = provenance["epoch"]
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_inference(checkpoint_path: str | os.PathLike[str], out_path: str | os.PathLike[str], *, half: bool | str = False) -> dict[str, Any]:
    """Write the weights of any checkpoint (training, published, plain state dict, inference) to ``out_path`` alone.

    The architecture and sampling mode are resolved as :func:`load_checkpoint` does and recorded;
    the provenance names the source file and its SHA-256, this vosvfi version, and the training
    step and epoch where the source records them. Returns the provenance written.
    """
    source, target = Path(checkpoint_path), Path(out_path)
    inference_dtype(half)  # a bad value fails before anything is read
    if target.exists() and source.exists() and target.resolve() == source.resolve():
        raise VosvfiError(f"{target}: the export would replace its own source checkpoint; choose another output")
    model, checkpoint = load_checkpoint(source)
    meta = checkpoint.get("vosvfi") if isinstance(checkpoint.get("vosvfi"), dict) else {}
    extra = checkpoint.get("extra") if isinstance(checkpoint.get("extra"), dict) else {}
    earlier = checkpoint.get("provenance") if meta.get("format") == INFERENCE_FORMAT and isinstance(checkpoint.get("provenance"), dict) else {}
    provenance: dict[str, Any] = {
        "source": str(source.absolute()),
        "source_sha256": _file_sha256(source),
        "vosvfi_version": __version__,
        "trained_with": meta.get("version"),
        "source_dtype": meta.get("dtype"),  # set where the source is itself an inference file
        "epoch": checkpoint["epoch"] if isinstance(checkpoint.get("epoch"), int) else earlier.get("epoch"),
        "step": extra["step"] if isinstance(extra.get("step"), int) else earlier.get("step"),
    }
    if earlier:
        provenance["exported_from"] = earlier  # the source was itself an export: keep its history
    save_inference(model, target, provenance=provenance, half=half)
    return provenance


def read_checkpoint(path: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint file safely; a plain state dict is wrapped as ``{'state_dict': ...}``."""
    path = Path(path)
    if not path.is_file():
        raise VosvfiError(f"checkpoint not found: {path}")
    try:
        loaded = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise VosvfiError(f"{path} is not a loadable PyTorch checkpoint ({reason[:160]})") from None
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        return loaded
    if isinstance(loaded, dict) and loaded and all(isinstance(v, Tensor) for v in loaded.values()):
        return {"state_dict": loaded}
    raise VosvfiError(f"{path} is not a model checkpoint: expected a dict with a 'state_dict' entry")


def check_state_dict(path: Path, state_dict: dict[str, Any], model: torch.nn.Module) -> None:
    """Raise one line naming the missing, unexpected and mis-shaped keys, if any."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    misshaped = [
        f"{k} {tuple(state_dict[k].shape)} != {tuple(expected[k].shape)}"
        for k in expected
        if k in state_dict and tuple(getattr(state_dict[k], "shape", ())) != tuple(expected[k].shape)
    ]
    problems = []
    for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("mis-shaped keys", misshaped)):
        if keys:
            shown = ", ".join(keys[:3]) + (f" (+{len(keys) - 3} more)" if len(keys) > 3 else "")
            problems.append(f"{len(keys)} {label}: {shown}")
    if problems:
        name = "AdaCoF" if isinstance(model, AdaCoFNet) else type(model).__name__
        raise VosvfiError(f"{path} does not fit {name}: " + "; ".join(problems))


class _SkipRandomInit(TorchFunctionMode):
    """While active, the random fills that layers run when built are skipped, leaving memory uninitialised.

    For a model whose every parameter is then loaded from a checkpoint (a strict load): the fills
    take about half the time of a load. Torch function modes are per thread, so a model built in
    another thread meanwhile is initialised as usual.
    """

    _FILLS = frozenset({"uniform_", "normal_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_", "xavier_normal_", "trunc_normal_", "orthogonal_"})

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if getattr(func, "__name__", None) in self._FILLS:
            return args[0] if args else kwargs["tensor"]
        return func(*args, **kwargs)


def _load_registered(path: Path, checkpoint: dict[str, Any], block: dict[str, Any], device: str | torch.device) -> torch.nn.Module:
    """A model of the registry (not AdaCoF), rebuilt from its stored block and strictly loaded."""
    try:
        with _SkipRandomInit():
            model = MODELS.build(block)
    except VosvfiError as error:
        raise VosvfiError(f"{path}: {error}") from None
    check_state_dict(path, checkpoint["state_dict"], model)
    model.load_state_dict(checkpoint["state_dict"], strict=True, assign=True)
    return model.to(device).eval()


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    device: str | torch.device = "cpu",
    dilation: int | None = None,
    sampling_mode: str | None = None,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Build the model of ``path`` (AdaCoF, or another registered model whose block the file stores) and return it (eval mode) with the checkpoint (its weights as float32).

    The checkpoint's ``state_dict`` holds the model's own parameter tensors: copy them before
    changing either.

    The kernel size is read from the weights' shapes. The dilation and sampling mode come from
    the arguments, else from our metadata, else from the published convention (5 → 1, 11 → 2;
    ``legacy`` sampling).
    """
    path = Path(path)
    checkpoint = read_checkpoint(path, device=device)
    # Inference files may store fp16 or bf16; the model computes in float32.
    state_dict = {key: value.float() if isinstance(value, Tensor) and value.is_floating_point() else value for key, value in checkpoint["state_dict"].items()}
    checkpoint["state_dict"] = state_dict
    meta = checkpoint.get("vosvfi", {})
    if isinstance(meta.get("block"), dict):
        return _load_registered(path, checkpoint, meta["block"], device), checkpoint
    head = state_dict.get(_KERNEL_HEAD_KEY)
    taps = int(head.shape[0]) if isinstance(head, Tensor) and head.dim() == 4 else 0
    kernel_size = round(taps**0.5)
    if taps == 0 or kernel_size * kernel_size != taps or kernel_size % 2 == 0:
        raise VosvfiError(f"{path} does not fit AdaCoF: missing or malformed {_KERNEL_HEAD_KEY}")
    dilation = dilation or meta.get("dilation") or PUBLISHED_DILATION.get(kernel_size, 1)
    sampling_mode = sampling_mode or meta.get("sampling_mode") or "legacy"
    with _SkipRandomInit():  # every parameter is overwritten below; check_state_dict makes sure of that
        model = AdaCoFNet(kernel_size=kernel_size, dilation=int(dilation), sampling_mode=sampling_mode)
    check_state_dict(path, state_dict, model)
    # assign: the loaded tensors become the parameters, without a second copy of the weights.
    model.load_state_dict(state_dict, strict=True, assign=True)
    return model.to(device).eval(), checkpoint


def check_checkpoint(path: str | os.PathLike[str], *, field: str) -> None:
    """Refuse, in one line naming ``field``, a checkpoint that is missing or does not load as AdaCoF (before any work)."""
    try:
        load_checkpoint(path)
    except VosvfiError as error:
        raise VosvfiError(f"{field}: {error}") from None


def checkpoint_model_name(path: str | os.PathLike[str]) -> str:
    """The ``model`` name a checkpoint file is scored under: its stem; ``<folder>-<stem>`` for a training
    folder's generic names (``model.pth``, ``last.pth``, ``best.pth``), where the folder says which model.
    """
    path = Path(path)
    return f"{path.parent.name}-{path.stem}" if path.stem in _GENERIC_STEMS else path.stem


def scored_models(checkpoint: str | os.PathLike[str] | None, trained: Mapping[str, Path]) -> dict[str, Path]:
    """The models evaluation and the downstream checks score, name → file: ``checkpoint``
    (``evaluate.checkpoint``) alone where it is set, else every model of ``trained``.
    """
    if checkpoint is not None:
        path = Path(checkpoint).absolute()
        return {checkpoint_model_name(path): path}
    if not trained:
        raise VosvfiError("no model to score: set evaluate.checkpoint or plan the train stage")
    return dict(trained)
