"""Motion on real frames against the generator's: the project's strata, side by side, and a figure.

For each triplet, ``motion_px`` (mean DIS flow length between the input frames) and
``occluded_fraction`` (pixels failing the forward-backward check), as ``vosvfi_core.evaluation.strata``
defines them, plus the 95th percentile of the per-pixel flow length. Middlebury "other" is read
as any local copy is (``data.local``); the generator draws triplets at the study's frame size.

    .venv/bin/python benchmarks/motion_strata.py --middlebury ../shared/data/middlebury_other \
        --count 120 --size 192 256 --out docs/motion_strata.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vosvfi_core.data.local import local_copy
from vosvfi_core.data.sets import data_set
from vosvfi_core.data.synthetic import SyntheticConfig, render_frame, scene_for
from vosvfi_core.evaluation.strata import sample_motion
from vosvfi_core.flow import dis_flows
from vosvfi_core.io.atomic import atomic_path

QUANTILES = (0.5, 0.9, 0.95, 1.0)


def _measures(frame0: torch.Tensor, frame2: torch.Tensor) -> dict[str, float]:
    flow02, flow20 = dis_flows(frame0, frame2)
    lengths = np.concatenate([np.linalg.norm(flow02, axis=-1).ravel(), np.linalg.norm(flow20, axis=-1).ravel()])
    return {**sample_motion(frame0, frame2), "p95_px": float(np.percentile(lengths, 95))}


def middlebury_measures(folder: Path) -> list[dict[str, float]]:
    triplets = data_set("middlebury_other").open_triplets(local_copy("middlebury_other", "middlebury_other", folder))
    return [_measures(item["frame0"], item["frame2"]) for item in triplets]


def generator_measures(count: int, height: int, width: int, seed: int) -> list[dict[str, float]]:
    config = SyntheticConfig(seed=seed, height=height, width=width)
    rows = []
    for index in range(count):
        scene = scene_for(config, index)
        frame0, frame2 = (torch.from_numpy(render_frame(scene, t)[0]).permute(2, 0, 1).float() / 255 for t in (0.0, 1.0))
        rows.append(_measures(frame0, frame2))
    return rows


def _print(label: str, rows: list[dict[str, float]]) -> None:
    for key in ("motion_px", "p95_px", "occluded_fraction"):
        values = np.array([row[key] for row in rows])
        quantiles = "  ".join(f"q{int(q * 100):>3} {np.quantile(values, q):7.3f}" for q in QUANTILES)
        print(f"{label:<22} {key:<18} n={len(values):<4} {quantiles}")


def _figure(series: dict[str, list[dict[str, float]]], out: Path) -> None:
    figure = Figure(figsize=(11, 3.4))
    FigureCanvasAgg(figure)
    panels = [("motion_px", "mean DIS flow length (px)"), ("p95_px", "95th percentile of flow length (px)"), ("occluded_fraction", "occluded fraction")]
    for column, (key, title) in enumerate(panels):
        axes = figure.add_subplot(1, 3, column + 1)
        for label, rows in series.items():
            values = np.sort([row[key] for row in rows])
            axes.step(values, np.arange(1, len(values) + 1) / len(values), where="post", label=label)
        axes.set_xscale("symlog", linthresh=1.0 if key != "occluded_fraction" else 0.01)
        axes.set_title(title, fontsize=10)
        axes.set_ylabel("fraction of triplets" if column == 0 else "")
        axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as partial:
        figure.savefig(partial, dpi=110)
    print(f"figure: {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--middlebury", type=Path, help="a local copy of Middlebury other (its catalog layout)")
    parser.add_argument("--count", type=int, default=120, help="generator triplets to measure")
    parser.add_argument("--size", type=int, nargs=2, default=(192, 256), metavar=("HEIGHT", "WIDTH"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("docs/motion_strata.png"))
    args = parser.parse_args()
    series = {}
    if args.middlebury:
        series['Middlebury "other"'] = middlebury_measures(args.middlebury)
    series[f"generator {args.size[0]}x{args.size[1]}"] = generator_measures(args.count, *args.size, args.seed)
    for label, rows in series.items():
        _print(label, rows)
    _figure(series, args.out)


if __name__ == "__main__":
    main()
