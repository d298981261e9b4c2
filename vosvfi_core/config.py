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
    Field,
    NonNegativeInt,
    PositiveInt,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from vosvfi_core.config_types import Device, Section, TripletSetName, unique
from vosvfi_core.data.sets import DATA_SETS, data_set
from vosvfi_core.data.synthetic.config import DemoDataConfig
from vosvfi_core.downstream.registry import DOWNSTREAM_CHECKS, check_dataset
from vosvfi_core.errors import VosvfiError
from vosvfi_core.evaluation.interpolators import INTERPOLATORS
from vosvfi_core.evaluation.metric_registry import METRICS
from vosvfi_core.masks.segmenters import SEGMENTERS
from vosvfi_core.models.registry import MODELS
from vosvfi_core.registry import Block, block_field
from vosvfi_core.resources import resource_path
from vosvfi_core.stages import STAGE_NAMES
from vosvfi_core.training.config import TrainConfig

__all__ = [
    "DaskRunner",
    "DataConfig",
    "DownstreamConfig",
    "EvaluateConfig",
    "MasksConfig",
    "Profile",
    "profile_names",
    "Comparison",
    "ThreadsRunner",
    "TrainConfig",
    "config_hash",
    "load_profile",
    "parse_overrides",
    "profiles_dir",
]


def _known_stage(name: str) -> str:
    if name not in STAGE_NAMES:
        raise ValueError(f"unknown stage {name!r}; stages: {', '.join(STAGE_NAMES)}")
    return name


StageName = Annotated[str, AfterValidator(_known_stage)]
VariantName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")]
ModelBlock = block_field(MODELS)
MetricBlock = block_field(METRICS)
InterpolatorBlock = block_field(INTERPOLATORS)
CheckBlock = block_field(DOWNSTREAM_CHECKS)
SegmenterBlock = block_field(SEGMENTERS)


class ThreadsRunner(Section):
    kind: Literal["threads"] = "threads"
    max_workers: PositiveInt = 2
    # torch intra-op threads per task; None: the cores divided by max_workers (no oversubscription)
    threads_per_task: PositiveInt | None = None


class DaskRunner(Section):
    """A Dask cluster: an existing scheduler at ``address``, else a local cluster of ``n_workers``."""

    kind: Literal["dask"] = "dask"
    address: str | None = None
    n_workers: PositiveInt = 2
    threads_per_worker: PositiveInt = 1
    # torch intra-op threads per task; None: the cores divided by n_workers × threads_per_worker
    threads_per_task: PositiveInt | None = None


TaskRunnerConfig = Annotated[ThreadsRunner | DaskRunner, Field(discriminator="kind")]


class DataConfig(Section):
    synthetic: DemoDataConfig | None = None  # the generated demo tree (Vimeo-, DAVIS- and tracking-style)
    # Data sets the user already has: name → folder (read in place, its layout checked, nothing downloaded).
    local: dict[str, Path] = {}


class MasksConfig(Section):
    """Foreground masks by registered segmenters (exact masks a data set ships, or DeepLabV3).

    ``segmenter`` makes the training sets' masks, for the loss terms that read them;
    ``evaluation_segmenter`` the masks of the ground-truth middle frames of evaluation sets that
    ship no annotations, when an evaluation metric reads object masks.
    """

    # {type: ground_truth} | {type: deeplabv3_resnet101, weights: PATH, batch_size: 8, num_workers: 2}
    segmenter: SegmenterBlock = Field(default_factory=lambda: SEGMENTERS.check("ground_truth"))
    evaluation_segmenter: SegmenterBlock = Field(default_factory=lambda: SEGMENTERS.check("deeplabv3_resnet101"))
    shard_size: PositiveInt = 3000  # frames per task
    device: Device = "auto"


class EvaluateConfig(Section):
    checkpoint: Path | None = None  # evaluate this file instead of the trained model
    datasets: Annotated[list[TripletSetName], AfterValidator(unique)] = ["synthetic"]
    # Also evaluated when already in place (data.local or the data root), never downloaded: the
    # plan adds each one found to `datasets` and notes the others.
    datasets_if_present: Annotated[list[TripletSetName], AfterValidator(unique)] = []
    metrics: Annotated[list[MetricBlock], AfterValidator(unique)] = Field(default_factory=lambda: [METRICS.check("psnr"), METRICS.check("ssim")], min_length=1)
    protocols: Annotated[list[Literal["float", "uint8"]], AfterValidator(unique)] = ["float"]
    baselines: Annotated[list[InterpolatorBlock], AfterValidator(unique)] = Field(default_factory=lambda: [INTERPOLATORS.check("frame_average")])
    max_samples: PositiveInt | None = None  # per data set; None evaluates all
    pictures: int = Field(default=3, ge=0)  # interpolated examples saved per data set
    # Frames larger than tile px go through the model in overlapping tiles (0: always whole);
    # where a frame fits, tiled and whole-frame outputs are the same.
    tile: NonNegativeInt = 1024
    overlap: NonNegativeInt = 128
    device: Device = "auto"
    # Arithmetic of the scored networks: fp32 keeps scores exact and comparable across machines;
    # auto, bf16 or fp16 (CUDA) trade that for speed, as `vosvfi interpolate --precision` does.
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "fp32"


class DownstreamConfig(Section):
    """Checks of interpolated videos beyond per-frame quality, each on its own data set."""

    checks: Annotated[list[CheckBlock], AfterValidator(unique)] = Field(default_factory=lambda: [DOWNSTREAM_CHECKS.check("foreground_psnr")])
    baselines: Annotated[list[InterpolatorBlock], AfterValidator(unique)] = Field(default_factory=lambda: [INTERPOLATORS.check("frame_average")])
    device: Device = "auto"


def _variant(train: TrainConfig, changes: dict[str, Any]) -> TrainConfig:
    """``train`` with a variant's changes laid over it (a block of another type replaces the block whole); ``model`` is not train's."""
    return TrainConfig.model_validate(_merge(train.model_dump(), {key: value for key, value in changes.items() if key != "model"}))


class Comparison(Section):
    """Two groups of this run's models compared on every evaluated sample (paired bootstrap), e.g. a variant over seeds."""

    name: VariantName
    a: list[str] = Field(min_length=1)
    b: list[str] = Field(min_length=1)
    protocol: Literal["float", "uint8"] = "float"


class Profile(Section):
    name: str
    description: str = ""
    task_runner: TaskRunnerConfig = ThreadsRunner()
    stages: list[StageName] = list(STAGE_NAMES)
    data: DataConfig = DataConfig()
    masks: MasksConfig = MasksConfig()
    model: ModelBlock = Field(default_factory=lambda: MODELS.check("adacof"))
    train: TrainConfig = TrainConfig()
    # Models trained side by side, each scored by evaluate and downstream: variant name → changes
    # to the train section (other loss terms, a teacher, a seed), and optionally its own `model`
    # block instead of the profile's. Empty: one model, named model.type.
    variants: dict[VariantName, dict[str, Any]] = {}
    evaluate: EvaluateConfig = EvaluateConfig()
    downstream: DownstreamConfig = DownstreamConfig()
    comparisons: list[Comparison] = []  # written into the report from the evaluation results

    def trainings(self) -> dict[str, TrainConfig]:
        """The train section of each model the train stage produces, by name."""
        if not self.variants:
            return {self.model.type: self.train}
        return {name: _variant(self.train, changes) for name, changes in self.variants.items()}

    def models(self) -> dict[str, Block]:
        """The network (its registry block) of each model the train stage produces, by name."""
        if not self.variants:
            return {self.model.type: self.model}
        return {name: MODELS.check(changes["model"]) if "model" in changes else self.model for name, changes in self.variants.items()}

    @field_validator("task_runner", mode="before")
    @classmethod
    def _runner_shorthand(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _variants_valid(self) -> Profile:
        for name, changes in self.variants.items():
            if "model" in changes:
                try:
                    MODELS.check(changes["model"])
                except ValueError as error:
                    raise ValueError(f"variants.{name}.model: {error}") from None
            try:
                _variant(self.train, changes)
            except ValidationError as error:
                first = error.errors()[0]
                field = ".".join(str(part) for part in first["loc"])
                message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"].removeprefix("Value error, ")
                raise ValueError(f"variants.{name}.{field}: {message}") from None
        return self

    @model_validator(mode="after")
    def _comparisons_name_models(self) -> Profile:
        scored = set(self.trainings()) | {str(b.kwargs.get("name", b.type)) for b in self.evaluate.baselines}
        for index, comparison in enumerate(self.comparisons):
            for model in (*comparison.a, *comparison.b):
                if model not in scored and self.evaluate.checkpoint is None:
                    raise ValueError(f"comparisons.{index}: {model!r} is not a model this run scores; models: {', '.join(sorted(scored))}")
        return self

    @model_validator(mode="after")
    def _data_consistent(self) -> Profile:
        for check in self.downstream.checks:
            try:
                data_set(check_dataset(check))
            except VosvfiError as error:
                raise ValueError(f"downstream.checks: {error}") from None
        train_sets = {config.dataset for config in self.trainings().values()}
        uses = {*train_sets, *self.evaluate.datasets, *(check_dataset(c) for c in self.downstream.checks)}
        generated = sorted(name for name in uses if data_set(name).generated)
        if generated and self.data.synthetic is None:
            raise ValueError(f"data.synthetic must be set: the profile reads the generated data set {generated[0]}")
        for name in self.data.local:
            if name not in DATA_SETS or data_set(name).generated:
                known = ", ".join(n for n, spec in DATA_SETS.items() if not spec.generated)
                raise ValueError(f"data.local: {name!r} is not a downloadable data set; known: {known}")
        for train_set in sorted(train_sets):
            exact = data_set(train_set).has_masks
            if self.masks.segmenter.type == "ground_truth" and not exact and "masks" in self.stages:
                raise ValueError(f"masks.segmenter ground_truth needs a training set with exact masks; {train_set} has none")
            if self.masks.segmenter.type != "ground_truth" and exact and "masks" in self.stages:
                # Training would read predicted masks instead of the generator's exact ones.
                raise ValueError(f"masks.segmenter {self.masks.segmenter.type}: {train_set} ships exact masks; use ground_truth")
        return self


def config_hash(*sections: BaseModel) -> str:
    """A hex digest of the sections' values, independent of field order and of Python's hash seed."""
    payload = [json.dumps(section.model_dump(mode="json"), sort_keys=True, separators=(",", ":")) for section in sections]
    return hashlib.sha256("\n".join(payload).encode()).hexdigest()


def profiles_dir() -> Path:
    """``$VOSVFI_CONFIGS_DIR``, else the shipped profiles (``vosvfi_core/resources/configs``)."""
    return Path(os.environ.get("VOSVFI_CONFIGS_DIR") or resource_path("configs"))


def profile_names() -> list[str]:
    """The names of the profiles in :func:`profiles_dir`, sorted."""
    return sorted(p.stem for p in profiles_dir().glob("*.yaml"))


def _profile_path(profile: str | os.PathLike[str]) -> Path:
    text = str(profile)
    if text.endswith((".yaml", ".yml")) or os.sep in text:
        path = Path(text)
        if not path.is_file():
            raise VosvfiError(f"profile file not found: {path}")
        return path
    path = profiles_dir() / f"{text}.yaml"
    if not path.is_file():
        raise VosvfiError(f"unknown profile {text!r}: use one of {', '.join(profile_names())} or a path to a .yaml file")
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
    """``updates`` laid over ``base`` key by key; a registry block whose ``type`` changes is replaced whole."""
    merged = dict(base)
    for key, value in updates.items():
        old = merged.get(key)
        if isinstance(value, dict) and isinstance(old, dict) and value.get("type", old.get("type")) == old.get("type"):
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
