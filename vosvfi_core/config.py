"""Pipeline profiles: pydantic models read from YAML, with a stable hash per stage section.

A profile (``configs/demo.yaml``, ``configs/paper.yaml`` or any YAML file) holds one section per
stage. Each stage's cache key hashes only the sections that stage reads, so changing the
evaluation settings never reruns training. Every model forbids unknown fields: a typo is a
one-line :class:`VosvfiError` naming the file and the field.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from vosvfi_core.data.sets import DATA_SETS, data_set, data_set_names
from vosvfi_core.data.synthetic.config import DemoDataConfig
from vosvfi_core.downstream.registry import DOWNSTREAM_CHECKS, check_dataset
from vosvfi_core.errors import VosvfiError
from vosvfi_core.evaluation.interpolators import INTERPOLATORS
from vosvfi_core.evaluation.metric_registry import METRICS
from vosvfi_core.models.registry import MODELS
from vosvfi_core.registry import block_field
from vosvfi_core.resources import resource_path
from vosvfi_core.stages import STAGE_NAMES
from vosvfi_core.training.losses import LOSS_TERMS, loss_blocks

__all__ = [
    "DaskRunner",
    "DataConfig",
    "DownstreamConfig",
    "EvaluateConfig",
    "MasksConfig",
    "Profile",
    "ThreadsRunner",
    "TrainConfig",
    "config_hash",
    "load_profile",
    "parse_overrides",
    "profiles_dir",
]

Device = Literal["auto", "cpu", "cuda"]


def _known_stage(name: str) -> str:
    if name not in STAGE_NAMES:
        raise ValueError(f"unknown stage {name!r}; stages: {', '.join(STAGE_NAMES)}")
    return name


def _triplet_set(name: str) -> str:
    try:
        spec = data_set(name)
    except VosvfiError as error:
        raise ValueError(str(error)) from None
    if spec.triplets is None:
        raise ValueError(f"data set {name!r} holds {spec.kind} sequences, not triplets")
    return name


def _trainable_set(name: str) -> str:
    if data_set(_triplet_set(name)).train_split is None:
        raise ValueError(f"data set {name!r} has no training split; trainable: {', '.join(data_set_names(trainable=True))}")
    return name


StageName = Annotated[str, AfterValidator(_known_stage)]
TripletSetName = Annotated[str, AfterValidator(_triplet_set)]
TrainSetName = Annotated[str, AfterValidator(_trainable_set)]
ModelBlock = block_field(MODELS)
LossBlock = block_field(LOSS_TERMS)
MetricBlock = block_field(METRICS)
InterpolatorBlock = block_field(INTERPOLATORS)
CheckBlock = block_field(DOWNSTREAM_CHECKS)


def _unique(value: list[Any]) -> list[Any]:
    keys = [str(v) for v in value]
    if len(set(keys)) != len(keys):
        raise ValueError("entries must be unique")
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ThreadsRunner(_Section):
    kind: Literal["threads"] = "threads"
    max_workers: PositiveInt = 2
    # torch intra-op threads per task; None: the cores divided by max_workers (no oversubscription)
    threads_per_task: PositiveInt | None = None


class DaskRunner(_Section):
    """A Dask cluster: an existing scheduler at ``address``, else a local cluster of ``n_workers``."""

    kind: Literal["dask"] = "dask"
    address: str | None = None
    n_workers: PositiveInt = 2
    threads_per_worker: PositiveInt = 1
    # torch intra-op threads per task; None: the cores divided by n_workers × threads_per_worker
    threads_per_task: PositiveInt | None = None


TaskRunnerConfig = Annotated[ThreadsRunner | DaskRunner, Field(discriminator="kind")]


class DataConfig(_Section):
    synthetic: DemoDataConfig | None = None  # the generated demo tree (Vimeo-, DAVIS- and tracking-style)
    # Data sets the user already has: name → folder (read in place, its layout checked, nothing downloaded).
    local: dict[str, Path] = {}


class MasksConfig(_Section):
    """Foreground masks of the training set: exact ones (synthetic data) or DeepLabV3 predictions."""

    segmenter: Literal["ground_truth", "deeplabv3"] = "ground_truth"
    weights: Path | None = None  # DeepLabV3-ResNet101 (21 VOC classes) state dict, for deeplabv3
    shard_size: PositiveInt = 8  # triplets per task
    device: Device = "auto"

    @model_validator(mode="after")
    def _weights_for_deeplab(self) -> MasksConfig:
        if self.segmenter == "deeplabv3" and self.weights is None:
            raise ValueError("masks.weights is required when masks.segmenter is deeplabv3")
        return self


_ORIGINAL_LOSS = "1*Charb+0.01*g_Spatial+0.005*g_Occlusion"


class TrainConfig(_Section):
    dataset: TrainSetName = "synthetic"
    crop: PositiveInt | None = 256  # random square crops; None trains on whole frames
    augment: bool = True  # flips and temporal reversal
    batch_size: PositiveInt = 4
    epochs: PositiveInt = 50
    max_steps: PositiveInt | None = None  # stop early after this many optimiser steps
    lr: PositiveFloat = 1e-3
    lr_step_epochs: PositiveInt = 20  # StepLR step size, in epochs
    lr_gamma: PositiveFloat = 0.5
    # Registered loss terms, as blocks or as the original's loss string.
    losses: Annotated[list[LossBlock], BeforeValidator(loss_blocks), AfterValidator(_unique)] = Field(
        default_factory=lambda: [LOSS_TERMS.check(b) for b in loss_blocks(_ORIGINAL_LOSS)], min_length=1
    )
    checkpoint_every: PositiveInt = 500  # optimiser steps between checkpoints
    log_every: PositiveInt = 10  # optimiser steps between history rows
    seed: int = 0
    device: Device = "auto"
    num_workers: int = Field(default=0, ge=0)


class EvaluateConfig(_Section):
    checkpoint: Path | None = None  # evaluate this file instead of the trained model
    datasets: Annotated[list[TripletSetName], AfterValidator(_unique)] = ["synthetic"]
    metrics: Annotated[list[MetricBlock], AfterValidator(_unique)] = Field(default_factory=lambda: [METRICS.check("psnr"), METRICS.check("ssim")], min_length=1)
    protocols: Annotated[list[Literal["float", "uint8"]], AfterValidator(_unique)] = ["float"]
    baselines: Annotated[list[InterpolatorBlock], AfterValidator(_unique)] = Field(default_factory=lambda: [INTERPOLATORS.check("frame_average")])
    max_samples: PositiveInt | None = None  # per data set; None evaluates all
    pictures: int = Field(default=3, ge=0)  # interpolated examples saved per data set
    device: Device = "auto"


class DownstreamConfig(_Section):
    """Checks of interpolated videos beyond per-frame quality, each on its own data set."""

    checks: Annotated[list[CheckBlock], AfterValidator(_unique)] = Field(default_factory=lambda: [DOWNSTREAM_CHECKS.check("foreground_psnr")])
    baselines: Annotated[list[InterpolatorBlock], AfterValidator(_unique)] = Field(default_factory=lambda: [INTERPOLATORS.check("frame_average")])
    device: Device = "auto"


class Profile(_Section):
    name: str
    description: str = ""
    task_runner: TaskRunnerConfig = ThreadsRunner()
    stages: list[StageName] = list(STAGE_NAMES)
    data: DataConfig = DataConfig()
    masks: MasksConfig = MasksConfig()
    model: ModelBlock = Field(default_factory=lambda: MODELS.check("adacof"))
    train: TrainConfig = TrainConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    downstream: DownstreamConfig = DownstreamConfig()

    @field_validator("task_runner", mode="before")
    @classmethod
    def _runner_shorthand(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _data_consistent(self) -> Profile:
        for check in self.downstream.checks:
            try:
                data_set(check_dataset(check))
            except VosvfiError as error:
                raise ValueError(f"downstream.checks: {error}") from None
        uses = {self.train.dataset, *self.evaluate.datasets, *(check_dataset(c) for c in self.downstream.checks)}
        generated = sorted(name for name in uses if data_set(name).generated)
        if generated and self.data.synthetic is None:
            raise ValueError(f"data.synthetic must be set: the profile reads the generated data set {generated[0]}")
        for name in self.data.local:
            if name not in DATA_SETS or data_set(name).generated:
                known = ", ".join(n for n, spec in DATA_SETS.items() if not spec.generated)
                raise ValueError(f"data.local: {name!r} is not a downloadable data set; known: {known}")
        trains_on_exact_masks = data_set(self.train.dataset).has_masks
        if self.masks.segmenter == "ground_truth" and not trains_on_exact_masks and "masks" in self.stages:
            raise ValueError(f"masks.segmenter ground_truth needs a training set with exact masks; {self.train.dataset} has none")
        if self.masks.segmenter != "ground_truth" and trains_on_exact_masks and "masks" in self.stages:
            # Predicted masks would overwrite the generator's exact ones in the shared data tree.
            raise ValueError(f"masks.segmenter {self.masks.segmenter} would overwrite the exact masks of {self.train.dataset}; use ground_truth")
        return self


def config_hash(*sections: BaseModel) -> str:
    """A hex digest of the sections' values, independent of field order and of Python's hash seed."""
    payload = [json.dumps(section.model_dump(mode="json"), sort_keys=True, separators=(",", ":")) for section in sections]
    return hashlib.sha256("\n".join(payload).encode()).hexdigest()


def profiles_dir() -> Path:
    """``$VOSVFI_CONFIGS_DIR``, else the project's ``configs/`` (the checkout's, or the installed copy)."""
    return Path(os.environ.get("VOSVFI_CONFIGS_DIR") or resource_path("configs"))


def _profile_path(profile: str | os.PathLike[str]) -> Path:
    text = str(profile)
    if text.endswith((".yaml", ".yml")) or os.sep in text:
        path = Path(text)
        if not path.is_file():
            raise VosvfiError(f"profile file not found: {path}")
        return path
    path = profiles_dir() / f"{text}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in profiles_dir().glob("*.yaml"))
        raise VosvfiError(f"unknown profile {text!r}: use one of {', '.join(known)} or a path to a .yaml file")
    return path


def parse_overrides(overrides: Iterable[str]) -> dict[str, Any]:
    """``["train.max_steps=10", "evaluate.datasets=[synthetic]"]`` → a nested dict (values read as YAML)."""
    nested: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise VosvfiError(f"override {item!r} must look like section.field=value")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            raise VosvfiError(f"override {item!r}: the value is not valid YAML") from None
        node = nested
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise VosvfiError(f"override {item!r} conflicts with an earlier override of {part!r}")
            node = child
        node[parts[-1]] = value
    return nested


def _merge(base: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _first_error(source: str, error: ValidationError) -> VosvfiError:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"] if part not in ("dask", "threads"))
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    where = f"{source}: {location}" if location else source
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return VosvfiError(f"{where}: {message}{more}")


def load_profile(profile: str | os.PathLike[str], overrides: Sequence[str] = ()) -> Profile:
    """Read a profile by name (``demo``, ``paper``) or path, apply ``section.field=value`` overrides."""
    path = _profile_path(profile)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise VosvfiError(f"{path}:{where} not valid YAML") from None
    if not isinstance(raw, dict):
        raise VosvfiError(f"{path}: a profile must be a mapping of sections")
    raw.setdefault("name", path.stem)
    source = str(path) + (" with overrides" if overrides else "")
    try:
        return Profile.model_validate(_merge(raw, parse_overrides(overrides)))
    except ValidationError as error:
        raise _first_error(source, error) from None
