"""The registries are the extension points: a toy loss term, metric, baseline and downstream check,
registered here without editing any library file, run through the real pipeline (trainer,
evaluation, downstream, tables, report) on the synthetic demo data."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import torch
import yaml
from pipeline_profile import TINY_PROFILE

from vosvfi_core.data.sets import data_set
from vosvfi_core.downstream.registry import DOWNSTREAM_CHECKS, CheckContext, DownstreamCheck
from vosvfi_core.errors import VosvfiError
from vosvfi_core.evaluation import INTERPOLATORS, METRICS, Interpolator, InterpolatorContext, Metric
from vosvfi_core.training import LOSS_TERMS, LossTerm


def toy_l1(*, weight: float = 1.0) -> LossTerm:
    """Mean absolute error against the true middle frame."""
    return LossTerm("toy_l1", weight, lambda step: (step.output.frame - step.batch["frame1"]).abs().mean())


def toy_mae(*, scale: float = 1.0) -> Metric:
    """Mean absolute error, scaled."""
    return Metric("toy_mae", False, f"RGB mean |out - truth| x {scale}", lambda out, truth, item: scale * float((out - truth).abs().mean()))


def toy_first_frame(context: InterpolatorContext) -> Interpolator:
    """Repeats the first input frame."""
    return Interpolator("toy_first_frame", lambda frame0, frame2: frame0.clone())


def toy_brightness(context: CheckContext, *, dataset: str = "synthetic_davis") -> DownstreamCheck:
    """Mean brightness of each interpolated middle frame."""
    spec = data_set(dataset)

    def run(interpolators: Sequence[Interpolator], root: Path) -> list[dict[str, Any]]:
        triplets = spec.open_triplets(root)
        rows = []
        for interpolator in interpolators:
            for index in range(len(triplets)):
                item = triplets[index]
                output = interpolator(item["frame0"][None], item["frame2"][None])
                value = float(output.mean())
                rows.append(
                    {
                        "model": interpolator.name,
                        "dataset": dataset,
                        "sample": item["name"],
                        "frame": None,
                        "check": "toy_brightness",
                        "metric": "mean",
                        "value": value,
                        "convention": None,
                    }
                )
        return rows

    return DownstreamCheck("toy_brightness", dataset, run)


@pytest.fixture
def toys() -> Iterator[None]:
    registrations = [(LOSS_TERMS, "toy_l1", toy_l1), (METRICS, "toy_mae", toy_mae), (INTERPOLATORS, "toy_first_frame", toy_first_frame)]
    registrations.append((DOWNSTREAM_CHECKS, "toy_brightness", toy_brightness))
    for registry, name, factory in registrations:
        registry.register(name)(factory)
    yield
    for registry, name, _ in registrations:
        registry.unregister(name)


def test_exception_a_name_is_registered_once(toys: None) -> None:
    with pytest.raises(ValueError, match="registered twice"):
        METRICS.register("toy_mae")(toy_mae)
    with pytest.raises(VosvfiError, match="unknown metric 'toy_maw'; known: .*toy_mae"):
        METRICS.build("toy_maw")
    with pytest.raises(VosvfiError, match="metric toy_mae: scale: Input should be a valid number"):
        METRICS.build({"type": "toy_mae", "scale": "large"})


@pytest.mark.slow
def test_feature_toy_entries_reach_the_tables_and_the_report(toys: None, prefect_api: str, workspace: Path) -> None:
    from flows.pipeline import pipeline

    profile = {
        **TINY_PROFILE,
        "train": {**TINY_PROFILE["train"], "losses": [{"type": "charbonnier"}, {"type": "toy_l1", "weight": 0.5}]},
        "evaluate": {**TINY_PROFILE["evaluate"], "metrics": ["psnr", {"type": "toy_mae", "scale": 2.0}], "baselines": ["frame_average", "toy_first_frame"]},
        "downstream": {**TINY_PROFILE["downstream"], "checks": [{"type": "toy_brightness", "dataset": "synthetic_davis"}], "baselines": ["toy_first_frame"]},
    }
    (workspace / "toys.yaml").write_text(yaml.safe_dump(profile))
    result = pipeline(profile=str(workspace / "toys.yaml"), run_id="toys")

    history = pq.read_table(result["tables"]["train_history"]).to_pandas()
    assert {"toy_l1", "charbonnier", "loss"} <= set(history["quantity"])
    at_step = history[history["step"] == history["step"].max()].set_index("quantity")["value"]
    assert at_step["loss"] == pytest.approx(at_step["charbonnier"] + 0.5 * at_step["toy_l1"], rel=1e-5)

    evaluated = pq.read_table(result["tables"]["eval_results"]).to_pandas()
    assert set(evaluated["model"]) == {"adacof", "frame_average", "toy_first_frame"}
    toy = evaluated[(evaluated["metric"] == "toy_mae") & (evaluated["model"] == "toy_first_frame") & (evaluated["protocol"] == "float")]
    assert len(toy) == len(evaluated[(evaluated["metric"] == "psnr") & (evaluated["model"] == "toy_first_frame") & (evaluated["protocol"] == "float")]) > 0
    first = toy.iloc[0]
    item = data_set(first["dataset"]).open_triplets(Path(workspace / "data" / "demo"))
    sample = next(item[i] for i in range(len(item)) if item[i]["name"] == first["sample"])
    assert first["value"] == pytest.approx(2.0 * float((sample["frame0"] - sample["frame1"]).abs().mean()), rel=1e-6)  # the toy's own formula
    assert first["convention"] == "RGB mean |out - truth| x 2.0"

    checked = pq.read_table(result["tables"]["downstream_results"]).to_pandas()
    assert set(checked["check"]) == {"toy_brightness"} and set(checked["model"]) == {"adacof", "toy_first_frame"}
    report = Path(result["report"]).read_text()
    assert "toy_mae" in report and "toy_first_frame" in report and "toy_brightness" in report and "toy_l1" in report
    assert torch.isfinite(torch.tensor(checked["value"].to_numpy())).all()
