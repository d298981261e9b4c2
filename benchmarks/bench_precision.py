"""How much bfloat16 autocast changes a trained model's PSNR on Middlebury "other", against float32.

    .venv/bin/python benchmarks/bench_precision.py CHECKPOINT [CHECKPOINT ...] [--data PATH] [--precisions fp32,bf16]

Scores each checkpoint on the 12 Middlebury "other" triplets (``--data``: the folder holding
``other-data`` and ``other-gt-interp``; default ``../shared/data/middlebury_other``) as the
evaluate stage does (``vosvfi_core.evaluation``: float protocol, whole frames), once per
precision, and prints per-sequence PSNR, the mean, and each precision's mean change from the
first. The goal for bf16 is a change of at most 0.05 dB. Only a trained model says anything here:
random weights blend the inputs whatever the precision.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from vosvfi_core.checkpoint_format import load_checkpoint
from vosvfi_core.data.sets import data_set
from vosvfi_core.evaluation import METRICS, evaluate, model_interpolator
from vosvfi_core.interpolation import prepare_for_inference
from vosvfi_core.precision import resolve_precision

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "middlebury_other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    args = parser.parse_args()
    device = torch.device(args.device)
    precisions = [resolve_precision(p, device) for p in args.precisions.split(",")]
    spec = data_set("middlebury_other")
    dataset = spec.open_triplets(args.data)
    metric = METRICS.build("psnr")
    print(f"device={device} threads={torch.get_num_threads()} torch={torch.__version__} data={args.data} ({len(dataset)} triplets)")
    for checkpoint in args.checkpoints:
        model = prepare_for_inference(load_checkpoint(checkpoint, device=device)[0])
        scores: dict[str, dict[str, float]] = {}
        for precision in precisions:
            start = time.perf_counter()
            rows = evaluate(model_interpolator(model, precision=precision), dataset, metrics=[metric], dataset_name=spec.name, split=spec.split or "")
            scores[precision] = {row["sample"]: row["value"] for row in rows}
            print(f"{checkpoint}: {precision} scored in {time.perf_counter() - start:.1f} s")
        print(f"{'sequence':>14} " + " ".join(f"{p:>8}" for p in precisions) + " " + " ".join(f"{'d_' + p:>8}" for p in precisions[1:]))
        reference = scores[precisions[0]]
        for sample in reference:
            values = [scores[p][sample] for p in precisions]
            print(f"{sample:>14} " + " ".join(f"{v:8.3f}" for v in values) + " " + " ".join(f"{v - values[0]:+8.4f}" for v in values[1:]))
        means = [statistics.mean(scores[p].values()) for p in precisions]
        print(f"{'mean':>14} " + " ".join(f"{v:8.3f}" for v in means) + " " + " ".join(f"{v - means[0]:+8.4f}" for v in means[1:]))
        for precision, mean in zip(precisions[1:], means[1:]):
            worst = max(abs(scores[precision][s] - reference[s]) for s in reference)
            print(f"{checkpoint}: {precision} vs {precisions[0]}: mean PSNR change {mean - means[0]:+.4f} dB, largest per sequence {worst:.4f} dB")


if __name__ == "__main__":
    main()
