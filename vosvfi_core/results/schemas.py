"""The declared schema of every result table; writers cast to it and refuse anything else.

The tables are long ("tidy"): one row per observation — (sample, metric), (step, quantity),
(frame, metric) — so a new metric, loss term or downstream check adds rows, never a column.
The report and the summaries pivot at the last moment. This module is the one declaration of
the tables; each schema's comment says what one row is and which columns identify it.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["DOWNSTREAM_RESULTS", "EVAL_RESULTS", "MASKS_MANIFEST", "SCHEMAS", "TABLE_FILES", "TRAIN_HISTORY"]

# One row per (run_id, model, dataset, split, sample, protocol, metric); ``convention`` says how the
# metric is computed, ``note`` why a value is null.
EVAL_RESULTS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),  # the run's model, a checkpoint or a baseline
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("sample", pa.string(), nullable=False),
        pa.field("protocol", pa.string(), nullable=False),  # how the output was prepared: "float" (unclamped) or "uint8"
        pa.field("metric", pa.string(), nullable=False),  # a registered metric's name
        pa.field("value", pa.float64(), nullable=True),  # null when the metric could not be computed (see note)
        pa.field("convention", pa.string(), nullable=False),  # how the metric computes its value (channels, range, window)
        pa.field("note", pa.string(), nullable=True),  # why a value is null
    ]
)

# One row per (run_id, model, step, quantity): the total loss, each loss term by name, lr, seconds, samples_per_second.
TRAIN_HISTORY = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),  # the trained variant
        pa.field("step", pa.int64(), nullable=False),  # optimiser steps done
        pa.field("epoch", pa.int64(), nullable=False),  # epoch the step belongs to (from 0)
        pa.field("quantity", pa.string(), nullable=False),  # "loss" (weighted total), a loss term's name, "lr", "seconds", "samples_per_second"
        pa.field("value", pa.float64(), nullable=False),
    ]
)

# One row per (run_id, dataset, frame_path): the precomputed foreground mask of one frame.
MASKS_MANIFEST = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("sample", pa.string(), nullable=False),
        pa.field("frame", pa.int64(), nullable=False),  # 0, 1, 2: first, middle, last frame of the triplet
        pa.field("frame_path", pa.string(), nullable=False),  # relative to the data set's folder
        # Relative to the data set's folder (masks/<segmenter key>/…); absolute for an evaluation set's masks (under the data root).
        pa.field("mask_path", pa.string(), nullable=False),
        pa.field("foreground_fraction", pa.float64(), nullable=False),
        pa.field("segmenter", pa.string(), nullable=False),
        pa.field("weights_sha256", pa.string(), nullable=True),  # null for masks a data set ships
        pa.field("seconds", pa.float64(), nullable=False),  # time spent on this mask (0 when kept from an earlier run)
    ]
)

# One row per (run_id, model, dataset, sample, frame, check, metric); ``frame`` is null for per-sample rows.
DOWNSTREAM_RESULTS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),  # "original" for the unmodified video, else the interpolator
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("sample", pa.string(), nullable=False),  # sequence
        pa.field("frame", pa.int64(), nullable=True),  # null for per-sequence (or per-sample) rows
        pa.field("check", pa.string(), nullable=False),  # a registered downstream check
        pa.field("metric", pa.string(), nullable=False),
        pa.field("value", pa.float64(), nullable=True),  # NaN/null where the region is empty
        pa.field("convention", pa.string(), nullable=True),  # what the value depends on, e.g. "propagator=pixel_affinity", "tracker=csrt"
    ]
)

# One row per (run_id, dataset, split, sample, quantity): how hard an evaluated sample is, for results by motion.
SAMPLE_STRATA = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("sample", pa.string(), nullable=False),
        pa.field("quantity", pa.string(), nullable=False),  # "motion_px" (mean DIS flow length), "occluded_fraction"
        pa.field("value", pa.float64(), nullable=False),
        pa.field("convention", pa.string(), nullable=False),  # how it was measured (flow method, consistency thresholds)
    ]
)

SCHEMAS: dict[str, pa.Schema] = {
    "eval_results": EVAL_RESULTS,
    "sample_strata": SAMPLE_STRATA,
    "train_history": TRAIN_HISTORY,
    "masks_manifest": MASKS_MANIFEST,
    "downstream_results": DOWNSTREAM_RESULTS,
}
# Paths relative to the run's folder runs/<run_id>/.
TABLE_FILES: dict[str, str] = {name: f"tables/{name}.parquet" for name in SCHEMAS}
