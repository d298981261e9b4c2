"""Building blocks shared by the config sections: the frozen base model, devices, data set names."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict

from vosvfi_core.data.sets import data_set, data_set_names
from vosvfi_core.errors import VosvfiError

__all__ = ["Section", "Device", "TripletSetName", "TrainSetName", "unique"]

Device = Literal["auto", "cpu", "cuda"]


class Section(BaseModel):
    """A config section: unknown fields are errors, values are frozen (so sections hash stably)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def unique(value: list[Any]) -> list[Any]:
    keys = [str(v) for v in value]
    if len(set(keys)) != len(keys):
        raise ValueError("entries must be unique")
    return value


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


TripletSetName = Annotated[str, AfterValidator(_triplet_set)]
TrainSetName = Annotated[str, AfterValidator(_trainable_set)]
