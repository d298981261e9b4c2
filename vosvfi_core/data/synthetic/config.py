"""Configs of the synthetic generator: motion ranges, one scene family, and the demo data set."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["DemoDataConfig", "SceneOptions", "SyntheticConfig"]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SceneOptions(_Config):
    """Ranges that :func:`~vosvfi_core.data.synthetic.random_scene` draws from; motions are per unit of t.

    Motion is linear in t within a scene (constant velocity, rotation rate, scale rate and gain
    rate), so the middle frame of a triplet is the scene at t = 0.5, exactly.

    Speeds are heavy-tailed: log-normal with median ``shift_median`` and log-spread ``shift_sigma``,
    capped at ``max_shift``, so most motion is small and a tail reaches past the 95th percentile of
    real sets (Middlebury "other": 7 px median, 21 px largest, by DIS flow). ``shift_median: null``
    draws uniformly over the disc of radius ``max_shift`` instead.
    """

    n_objects: tuple[int, int] = (1, 5)  # inclusive range
    max_shift: float = Field(default=24.0, ge=0)  # object displacement cap, pixels
    shift_median: float | None = Field(default=2.0, gt=0)
    shift_sigma: float = Field(default=1.0, ge=0)
    background_max_shift: float = Field(default=12.0, ge=0)  # background pan cap, pixels
    background_shift_median: float | None = Field(default=1.5, gt=0)
    max_rotation_deg: float = Field(default=15.0, ge=0)
    max_scale_change: float = Field(default=0.1, ge=0, lt=1)  # relative size change
    object_size: tuple[float, float] = (0.15, 0.3)  # object radius as a fraction of min(height, width)
    max_gain_change: float = Field(default=0.1, ge=0, lt=1)  # relative brightness change, background and each object
    thin_fraction: float = Field(default=0.15, ge=0, le=1)  # objects that are bars 1-3 px thick
    flat_fraction: float = Field(default=0.15, ge=0, le=1)  # objects with a smooth, low-texture colour ramp
    crossing_fraction: float = Field(default=0.2, ge=0, le=1)  # objects that enter or leave the frame
    supersample: int = Field(default=4, ge=1, le=8)  # samples per pixel side, area-averaged
    texture_scale: float = Field(default=2.0, gt=0)  # photograph texels per pixel

    @model_validator(mode="after")
    def _ranges(self) -> SceneOptions:
        low, high = self.n_objects
        if not 0 <= low <= high <= 255:
            raise ValueError(f"n_objects must be (min, max) with 0 <= min <= max <= 255, got {self.n_objects}")
        small, large = self.object_size
        if not 0 < small <= large <= 1:
            raise ValueError(f"object_size must be (min, max) with 0 < min <= max <= 1, got {self.object_size}")
        return self


class SyntheticConfig(SceneOptions):
    """One family of scenes: a seed, a frame size and the motion ranges."""

    seed: int = Field(default=0, ge=0)
    height: int = Field(default=64, ge=8, le=4096)
    width: int = Field(default=64, ge=8, le=4096)


# Sequences (DAVIS and tracking layouts) advance t by 1 per frame, so their motions are per frame:
# small and steady, with objects that stay in view and keep their brightness.
SEQUENCE_OPTIONS = SceneOptions(
    n_objects=(1, 3), max_shift=3.0, shift_median=None, background_max_shift=1.5, background_shift_median=None,
    max_rotation_deg=4.0, max_scale_change=0.01, max_gain_change=0.0, thin_fraction=0.0, flat_fraction=0.0, crossing_fraction=0.0,
)  # fmt: skip


class DemoDataConfig(_Config):
    """What ``vosvfi data generate-demo`` writes: Vimeo90K-style triplets, DAVIS-style and tracking sequences."""

    seed: int = Field(default=0, ge=0)
    height: int = Field(default=64, ge=16, le=1024)
    width: int = Field(default=96, ge=16, le=1024)
    train_count: int = Field(default=256, ge=1)
    test_count: int = Field(default=32, ge=1)
    davis_count: int = Field(default=4, ge=1)
    davis_frames: int = Field(default=12, ge=3)
    tracking_count: int = Field(default=3, ge=1)
    tracking_frames: int = Field(default=24, ge=2)
    scene: SceneOptions = SceneOptions()
