"""Scenes for the synthetic generator: a panning textured background and textured moving shapes.

Coordinates are pixels, x to the right and y down, with pixel centres at integer positions. Every
motion is linear in the time t, so a scene can be rendered exactly at any t (see ``render.py``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from vosvfi_core.data.synthetic.config import SceneOptions, SyntheticConfig
from vosvfi_core.data.synthetic.sampling import mirror_index

__all__ = [
    "Background",
    "Box",
    "Ellipse",
    "Polygon",
    "Scene",
    "SceneObject",
    "Shape",
    "TEXTURE_SOURCES",
    "random_scene",
    "scene_for",
    "solid_texture",
]

# Photographs bundled with scikit-image as PNG (no download, and no JPEG decoder whose output
# could differ between machines). Grey ones are tinted with a random colour.
TEXTURE_SOURCES = ("astronaut", "coffee", "chelsea", "immunohistochemistry", "brick", "grass", "gravel", "camera", "moon")


@dataclass(frozen=True)
class Ellipse:
    rx: float
    ry: float

    @property
    def extent(self) -> float:
        return max(self.rx, self.ry)

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (x / self.rx) ** 2 + (y / self.ry) ** 2 < 1.0


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in the object's frame, half-open so that pixel counts are exact."""

    half_width: float
    half_height: float

    @property
    def extent(self) -> float:
        return math.hypot(self.half_width, self.half_height)

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (x >= -self.half_width) & (x < self.half_width) & (y >= -self.half_height) & (y < self.half_height)


@dataclass(frozen=True)
class Polygon:
    """A simple polygon (vertices in order), filled by the even-odd rule."""

    vertices: tuple[tuple[float, float], ...]

    @property
    def extent(self) -> float:
        return max(math.hypot(vx, vy) for vx, vy in self.vertices)

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        inside = np.zeros(np.broadcast(x, y).shape, dtype=bool)
        vertices = self.vertices
        for (x1, y1), (x2, y2) in zip(vertices, vertices[1:] + vertices[:1], strict=True):
            if y1 == y2:
                continue
            crosses = (y1 > y) != (y2 > y)
            x_at_y = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            inside ^= crosses & (x < x_at_y)
        return inside


Shape = Ellipse | Box | Polygon


@dataclass(frozen=True, eq=False)
class Background:
    """``image(x, y, t) = g(t) · texture(k · (x + ox(t)), k · (y + oy(t)))`` with ``o(t) = origin + velocity · t``.

    ``k`` (``texture_scale``) is texels per pixel and ``g(t) = 1 + gain_rate · t`` a brightness
    change. The texture is mirrored beyond its edges; with ``k = 1`` an integer ``o(t)`` reads texels exactly.
    """

    texture: np.ndarray  # [h, w, 3] float64 in [0, 255]
    origin: tuple[float, float] = (0.0, 0.0)
    velocity: tuple[float, float] = (0.0, 0.0)
    texture_scale: float = 1.0
    gain_rate: float = 0.0

    def origin_at(self, t: float) -> tuple[float, float]:
        return self.origin[0] + self.velocity[0] * t, self.origin[1] + self.velocity[1] * t

    def gain_at(self, t: float) -> float:
        return 1.0 + self.gain_rate * t


@dataclass(frozen=True, eq=False)
class SceneObject:
    """A textured shape placed by ``p = c(t) + s(t) * R(a(t)) q`` for object-frame points ``q``.

    ``c``, ``a`` (radians, clockwise on screen since y points down), ``s`` and the brightness gain
    ``1 + gain_rate · t`` are linear in t. The texture's centre sits at the object's origin, holds
    ``texture_scale`` texels per pixel, and is mirrored beyond its edges.
    """

    shape: Shape
    texture: np.ndarray  # [h, w, 3] float64 in [0, 255]
    center: tuple[float, float]
    velocity: tuple[float, float] = (0.0, 0.0)
    angle: float = 0.0
    angular_velocity: float = 0.0
    scale: float = 1.0
    scale_velocity: float = 0.0
    texture_scale: float = 1.0
    gain_rate: float = 0.0

    def center_at(self, t: float) -> tuple[float, float]:
        return self.center[0] + self.velocity[0] * t, self.center[1] + self.velocity[1] * t

    def angle_at(self, t: float) -> float:
        return self.angle + self.angular_velocity * t

    def scale_at(self, t: float) -> float:
        return self.scale + self.scale_velocity * t

    def gain_at(self, t: float) -> float:
        return 1.0 + self.gain_rate * t


@dataclass(frozen=True, eq=False)
class Scene:
    """A frame size, a background and objects in drawing order (later ones on top; mask id = position + 1).

    ``supersample`` s > 1 renders each pixel as the mean of s × s samples spread evenly over its
    area, as a camera integrates light over a sensor cell.
    """

    height: int
    width: int
    background: Background
    objects: tuple[SceneObject, ...] = field(default_factory=tuple)
    supersample: int = 1


def solid_texture(rgb: tuple[float, float, float]) -> np.ndarray:
    """A one-texel texture: a uniform colour."""
    return np.asarray(rgb, dtype=np.float64).reshape(1, 1, 3)


@functools.cache
def _source_image(name: str) -> np.ndarray:
    import skimage.data

    image = np.asarray(getattr(skimage.data, name)())
    image.setflags(write=False)
    return image


def _photo_patch(rng: np.random.Generator, height: int, width: int, exclude: int | None = None) -> tuple[np.ndarray, int]:
    """A ``[height, width, 3]`` float64 crop of a random photograph (not number ``exclude``), flipped at random, grey ones tinted."""
    choices = [i for i in range(len(TEXTURE_SOURCES)) if i != exclude]
    number = choices[int(rng.integers(len(choices)))]
    source = _source_image(TEXTURE_SOURCES[number])
    top = int(rng.integers(source.shape[0]))
    left = int(rng.integers(source.shape[1]))
    rows = mirror_index(np.arange(top, top + height), source.shape[0])
    cols = mirror_index(np.arange(left, left + width), source.shape[1])
    patch = source[np.ix_(rows, cols)].astype(np.float64)
    if patch.ndim == 2:
        tint = rng.uniform(0.35, 1.0, size=3)
        patch = patch[:, :, None] * tint[None, None, :]
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    if rng.random() < 0.5:
        patch = patch[::-1]
    return np.ascontiguousarray(patch), number


def _ramp_texture(rng: np.random.Generator, size: int, avoid: np.ndarray) -> np.ndarray:
    """A smooth colour ramp with faint grain, its mean at least 80 (of 255, RGB distance) from ``avoid``."""
    for _ in range(16):
        base = rng.uniform(20.0, 235.0, size=3)
        if np.linalg.norm(base - avoid) >= 80.0:
            break
    ramp = np.linspace(-1.0, 1.0, size)
    direction = rng.uniform(0.0, 2 * math.pi)
    slope = rng.uniform(-25.0, 25.0, size=3)
    along = math.cos(direction) * ramp[None, :] + math.sin(direction) * ramp[:, None]
    grain = rng.normal(0.0, 3.0, size=(size, size, 1))
    return np.clip(base[None, None, :] + along[:, :, None] * slope[None, None, :] + grain, 0.0, 255.0)


def _random_shape(rng: np.random.Generator, radius: float, thin: bool = False) -> Shape:
    if thin:  # a bar 1-3 px thick
        return Box(radius * rng.uniform(0.6, 1.0), rng.uniform(0.5, 1.5))
    kind = int(rng.integers(3))
    if kind == 0:
        return Ellipse(radius * rng.uniform(0.6, 1.0), radius * rng.uniform(0.6, 1.0))
    if kind == 1:
        return Box(radius * rng.uniform(0.45, 0.7), radius * rng.uniform(0.45, 0.7))
    corners = int(rng.integers(3, 9))
    angles = np.sort(rng.uniform(0.0, 2 * math.pi, size=corners))
    radii = radius * rng.uniform(0.5, 1.0, size=corners)
    return Polygon(tuple((float(r * math.cos(a)), float(r * math.sin(a))) for r, a in zip(radii, angles, strict=True)))


def _speed(rng: np.random.Generator, cap: float, median: float | None, sigma: float) -> float:
    """Uniform over the disc of radius ``cap`` (``median`` None), else log-normal around ``median``, capped."""
    if median is None:
        return cap * math.sqrt(rng.random())
    return min(cap, median * math.exp(sigma * rng.normal()))


def _random_velocity(rng: np.random.Generator, cap: float, median: float | None = None, sigma: float = 1.0) -> tuple[float, float]:
    speed = _speed(rng, cap, median, sigma)
    direction = rng.uniform(0.0, 2 * math.pi)
    return speed * math.cos(direction), speed * math.sin(direction)


def _crossing_path(
    rng: np.random.Generator, height: int, width: int, reach: float, speed: float, cap: float, duration: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Start and velocity of an object whose centre crosses a random frame edge within ``duration``, inwards or outwards.

    Its speed is at least half its ``reach`` (so that a good part of it enters or leaves), capped by ``cap``.
    """
    speed = min(cap, max(speed, 0.5 * reach / duration))
    edge = int(rng.integers(4))
    outward = [(-1.0, 0.0), (1.0, 0.0), (0.0, -1.0), (0.0, 1.0)][edge]
    along = rng.uniform(0.0, width - 1.0) if edge >= 2 else rng.uniform(0.0, height - 1.0)
    depth = rng.uniform(0.1, 0.85) * speed * duration  # centre beyond the edge at the start
    if edge == 0:
        start = (-depth, along)
    elif edge == 1:
        start = (width - 1.0 + depth, along)
    elif edge == 2:
        start = (along, -depth)
    else:
        start = (along, height - 1.0 + depth)
    tilt = rng.uniform(-0.5, 0.5)
    vx, vy = -outward[0] + tilt * outward[1], -outward[1] + tilt * outward[0]
    norm = math.hypot(vx, vy)
    velocity = (speed * vx / norm, speed * vy / norm)
    if rng.random() < 0.5:  # leaving instead of entering: the same path, run backwards
        start = (start[0] + velocity[0] * duration, start[1] + velocity[1] * duration)
        velocity = (-velocity[0], -velocity[1])
    return start, velocity


def random_scene(
    rng: np.random.Generator,
    height: int,
    width: int,
    options: SceneOptions | None = None,
    *,
    duration: float = 1.0,
    keep_inside: bool = False,
) -> Scene:
    """A random scene for t in ``[0, duration]``.

    With ``keep_inside``, every object (including its texture margin) stays wholly inside the frame
    for the whole duration, so that tracking boxes are never cut by the border, and none crosses it.
    Objects never share the background's photograph, and low-texture ones keep their colour away
    from the background's mean, so none is invisible against it.
    """
    options = options or SceneOptions()
    if height < 8 or width < 8:
        raise ValueError(f"frames must be at least 8x8, got {height}x{width}")
    k = options.texture_scale
    bg_velocity = _random_velocity(rng, options.background_max_shift, options.background_shift_median, options.shift_sigma)
    pan = math.ceil(max(abs(bg_velocity[0]), abs(bg_velocity[1])) * duration) + 2
    bg_texture, bg_source = _photo_patch(rng, math.ceil((height + 2 * pan) * k) + 2, math.ceil((width + 2 * pan) * k) + 2)
    background = Background(
        bg_texture, (float(pan), float(pan)), bg_velocity, texture_scale=k,
        gain_rate=float(rng.uniform(-options.max_gain_change, options.max_gain_change)) / duration,
    )  # fmt: skip
    bg_mean = bg_texture.reshape(-1, 3).mean(axis=0)

    low, high = options.n_objects
    objects = []
    short_side = min(height, width)
    for _ in range(int(rng.integers(low, high + 1))):
        radius = short_side * rng.uniform(*options.object_size)
        thin = rng.random() < options.thin_fraction
        shape = _random_shape(rng, radius, thin)
        max_rate = min(options.max_scale_change, 0.5 / duration)  # keeps s(t) >= 0.5
        scale_velocity = float(rng.uniform(-max_rate, max_rate))
        largest = shape.extent * max(1.0, 1.0 + scale_velocity * duration)
        velocity = _random_velocity(rng, options.max_shift, options.shift_median, options.shift_sigma)
        crossing = not keep_inside and rng.random() < options.crossing_fraction
        if keep_inside:
            margin = largest + 1.0
            if 2 * margin >= min(height, width):
                raise ValueError(f"objects of radius {largest:.1f} cannot stay inside a {height}x{width} frame")
            start = (rng.uniform(margin, width - margin), rng.uniform(margin, height - margin))
            end_x = float(np.clip(start[0] + velocity[0] * duration, margin, width - margin))
            end_y = float(np.clip(start[1] + velocity[1] * duration, margin, height - margin))
            velocity = ((end_x - start[0]) / duration, (end_y - start[1]) / duration)
        elif crossing:
            start, velocity = _crossing_path(rng, height, width, largest, math.hypot(*velocity), options.max_shift, duration)
        else:
            start = (rng.uniform(0.0, width - 1.0), rng.uniform(0.0, height - 1.0))
        size = math.ceil((2 * math.ceil(largest) + 4) * k)
        flat = not thin and rng.random() < options.flat_fraction
        texture = _ramp_texture(rng, size, bg_mean) if flat else _photo_patch(rng, size, size, exclude=bg_source)[0]
        max_turn = math.radians(options.max_rotation_deg)
        objects.append(
            SceneObject(
                shape=shape,
                texture=texture,
                center=(float(start[0]), float(start[1])),
                velocity=(float(velocity[0]), float(velocity[1])),
                angle=float(rng.uniform(0.0, 2 * math.pi)),
                angular_velocity=float(rng.uniform(-max_turn, max_turn)),
                scale=1.0,
                scale_velocity=scale_velocity,
                texture_scale=k,
                gain_rate=float(rng.uniform(-options.max_gain_change, options.max_gain_change)) / duration,
            )
        )
    return Scene(height=height, width=width, background=background, objects=tuple(objects), supersample=options.supersample)


def scene_for(config: SyntheticConfig, index: int = 0) -> Scene:
    """Scene number ``index`` of the family that ``config`` describes (same config and index, same scene)."""
    rng = np.random.default_rng([config.seed, index])
    options = SceneOptions(**config.model_dump(include=set(SceneOptions.model_fields)))
    return random_scene(rng, config.height, config.width, options)
