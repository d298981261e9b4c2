"""Same seed, same machine, same numbers: the global RNGs under one lock, deterministic kernels, and what a GPU cannot promise.

Where training runs drifted apart for one seed, and what is done about each source:

- **Global RNGs shared by threads.** The pipeline trains variants concurrently in threads of one
  process, and Python's, NumPy's and torch's global RNGs are process-wide. The trainer seeded
  torch and then built its network, and every training item seeded all three and then drew its
  crop and flips: another thread seeding or drawing in between changed both. :func:`seeded_rngs`
  runs such a seed-then-draw section under one process-wide lock and puts the RNGs' states back
  afterwards, so a section's draws depend on its seed alone.
- **DataLoader.** An iterator draws its base seed from the global torch RNG unless the loader
  has a generator of its own (:func:`loader_generator`); worker processes seed Python and NumPy
  from their torch seed (:func:`seed_worker`).
- **Accumulating backward passes.** On the CPU, the backward of advanced indexing
  (``index_put_`` with accumulation: the top-k gather of the teachers' memory read) adds from
  several threads in a varying order unless ``torch.use_deterministic_algorithms`` is on
  (:func:`use_deterministic_algorithms`). ``scatter_add_`` on the CPU (the AdaCoF reference
  kernel's image gradient) is serial per plane, hence deterministic. On CUDA, ``scatter_add_``,
  ``index_add_`` and the CuPy kernel's ``atomicAdd`` are not, but they only compute the gradient
  with respect to the input frames, which training never asks for.
- **Intra-op threads.** Reductions split their work by the thread count: a run is reproducible
  for a given count (``set_task_threads`` sets it once for the process, the same on every run of
  a profile), and :func:`determinism_record` writes it down.
- **Top-k ties** in the propagators: ``torch.topk`` breaks ties by its implementation, the same
  way on every run of one machine (checked across runs and thread counts), so ties do not vary
  between runs; they may between a CPU and a GPU.

Deterministic algorithms are a process-wide switch: once one training run asks for them, every
task of the process runs with them. With ``warn_only`` an op that has no deterministic CUDA
implementation warns instead of failing; :func:`recording_nondeterministic_ops` collects those
warnings during a step so that the run's provenance lists them.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = [
    "GLOBAL_RNG_LOCK",
    "DeterminismRecord",
    "determinism_record",
    "loader_generator",
    "recording_nondeterministic_ops",
    "seed_from",
    "seed_worker",
    "seeded_rngs",
    "use_deterministic_algorithms",
]

GLOBAL_RNG_LOCK = threading.RLock()  # held while a section seeds the global RNGs and draws from them
_CAPTURE_LOCK = threading.Lock()  # warnings.catch_warnings changes process-wide state: one capture at a time
_ALERT = "does not have a deterministic implementation"  # the words of torch's alert for such an op


def seed_from(*parts: int) -> int:
    """One 31-bit seed from integers (tuple-of-int hashing does not depend on PYTHONHASHSEED)."""
    return hash(parts) & 0x7FFFFFFF


@contextlib.contextmanager
def seeded_rngs(seed: int) -> Iterator[None]:
    """Python's, NumPy's and torch's global RNGs seeded with ``seed`` for the block, under :data:`GLOBAL_RNG_LOCK`.

    Their states are restored when the block ends. Re-entrant; other threads wait at the lock.
    """
    with GLOBAL_RNG_LOCK:
        python_state, numpy_state, torch_state = random.getstate(), np.random.get_state(), torch.random.get_rng_state()
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)
            torch.random.set_rng_state(torch_state)


def loader_generator(seed: int) -> torch.Generator:
    """A DataLoader's own generator: its base seed is then never drawn from the global RNG."""
    return torch.Generator().manual_seed(seed)


def seed_worker(worker_id: int) -> None:
    """A DataLoader ``worker_init_fn``: Python and NumPy seeded from the worker's torch seed (torch's own recipe)."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def use_deterministic_algorithms(device: torch.device) -> None:
    """Turn on torch's deterministic algorithms for the process (warning, not failing, where an op has none).

    On CUDA also cuDNN's deterministic convolutions (no benchmarking) and cuBLAS's fixed workspace
    (``CUBLAS_WORKSPACE_CONFIG``, read when cuBLAS first starts; an existing value is kept).
    """
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)


def _op_name(message: str) -> str:
    """The op a determinism alert names: its text up to the alert's words (``upsample_bilinear2d_backward_out_cuda``)."""
    return message.split(_ALERT)[0].strip() or message


@contextlib.contextmanager
def recording_nondeterministic_ops() -> Iterator[list[str]]:
    """Collect, into the yielded list, the ops that warned of having no deterministic implementation in the block.

    The list is filled when the block ends (sorted, each op once). Other warnings of the block
    are shown as usual; warnings raised by other threads meanwhile are collected too.
    """
    found: list[str] = []
    with _CAPTURE_LOCK:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield found
        alerts = [str(w.message) for w in caught if _ALERT in str(w.message)]
        for other in caught:
            if _ALERT not in str(other.message):
                warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    found.extend(sorted({_op_name(text) for text in alerts}))


@dataclass
class DeterminismRecord:
    """What a run's numbers depend on beyond its seed, for its provenance."""

    deterministic_algorithms: bool
    device: str
    intra_op_threads: int
    torch_version: str
    nondeterministic_ops: list[str] = field(default_factory=list)  # ops that warned during the first step (GPU only, in practice)

    def as_dict(self) -> dict[str, Any]:
        return {
            "deterministic_algorithms": self.deterministic_algorithms,
            "device": self.device,
            "intra_op_threads": self.intra_op_threads,
            "torch_version": self.torch_version,
            "nondeterministic_ops": list(self.nondeterministic_ops),
        }


def determinism_record(device: torch.device) -> DeterminismRecord:
    """The current process's settings on ``device`` (the ops list is filled by the caller's first step)."""
    return DeterminismRecord(
        torch.are_deterministic_algorithms_enabled(), device.type, torch.get_num_threads(), str(torch.__version__)
    )  # a plain str: checkpoints load weights-only
