"""Data-parallel training on the CPU: two processes, the gloo backend, environment variables as torchrun sets them."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from vosvfi_core.config import TrainConfig
from vosvfi_core.models.registry import MODELS
from vosvfi_core.results.summaries import pivot
from vosvfi_core.training import Trainer, train
from vosvfi_core.training.batches import batch_addresses
from vosvfi_core.training.distributed import distributed

ADACOF = MODELS.check("adacof")


class _Triplets(torch.utils.data.Dataset):
    """Tiny triplets with masks and a random flip (the augmentation must follow the global batch slot)."""

    def __init__(self, count: int) -> None:
        generator = torch.Generator().manual_seed(1)
        self.frames = torch.rand(count, 3, 3, 32, 32, generator=generator)
        self.masks = (torch.rand(count, 3, 1, 32, 32, generator=generator) > 0.5).float()

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> dict:
        frames, masks = self.frames[index], self.masks[index]
        if torch.rand(()) < 0.5:
            frames, masks = frames.flip(-1), masks.flip(-1)
        return {**{f"frame{k}": frames[k] for k in range(3)}, **{f"mask{k}": masks[k] for k in range(3)}, "name": str(index)}


def _config(batch_size: int, **changes) -> TrainConfig:
    settings = {
        "crop": None, "batch_size": batch_size, "epochs": 1, "checkpoint_every": 1, "log_every": 1, "device": "cpu",
        "losses": "1*Charb+0.01*g_Spatial+0.005*g_Occlusion+1*Seg+1*Cons", "teacher": {"type": "pixel_affinity"},
    }  # fmt: skip
    return TrainConfig(**{**settings, **changes})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _rank(rank: int, world_size: int, port: int, folder: str) -> None:
    """One rank, started as torchrun would start it (environment variables), training 2 steps of batch 1."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    with distributed(torch.device("cpu")) as place:
        trainer = Trainer(_config(batch_size=1), ADACOF, _Triplets(4), Path(folder) / "checkpoints", place=place)
        result = trainer.run()
        torch.save({"state_dict": trainer.network.state_dict(), "history": result.history}, Path(folder) / f"rank{rank}.pt")


def test_cardinality_ranks_read_disjoint_slices_of_the_global_batch() -> None:
    whole = list(batch_addresses(0, 10, 4, 2, 0, 4))
    ranks = [list(batch_addresses(0, 10, 2, 2, 0, 4, rank=rank, world_size=2)) for rank in (0, 1)]
    for step in range(4):
        assert ranks[0][step] + ranks[1][step] == whole[step]  # same samples, same slots (so the same augmentation seeds)
        assert not {a[2] for a in ranks[0][step]} & {a[2] for a in ranks[1][step]}


@pytest.mark.slow
def test_feature_two_gloo_processes_keep_the_same_weights(tmp_path: Path) -> None:
    mp.spawn(_rank, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in (0, 1)]
    for key, value in ranks[0]["state_dict"].items():
        torch.testing.assert_close(ranks[1]["state_dict"][key], value, rtol=0, atol=0)
    # Rank 0 alone wrote the checkpoints and the history; rank 1's history is empty.
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["last.pth", "model.pth", "step-00000001.pth", "step-00000002.pth"]
    assert ranks[1]["history"] == [] and ranks[0]["history"]
    # The ranks' losses averaged equal a one-process run on the global batch (batch 2): the ranks read
    # the two halves of the same samples with the same augmentation.
    alone = train(_config(batch_size=2, max_steps=1), ADACOF, _Triplets(4), tmp_path / "alone")
    parallel, single = pivot(ranks[0]["history"], ["step"], "quantity", "value")[0], pivot(alone.history, ["step"], "quantity", "value")[0]
    for quantity in ("loss", "charbonnier", "seg", "cons"):
        assert parallel[quantity] == pytest.approx(single[quantity], rel=1e-5), quantity
    torch.manual_seed(0)  # the trainer's seed: the weights both ranks started from
    initial = MODELS.build(ADACOF).state_dict()
    assert max((ranks[0]["state_dict"][key] - value).abs().max().item() for key, value in initial.items()) > 0
