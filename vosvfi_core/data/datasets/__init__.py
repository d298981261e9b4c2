"""Torch datasets over the catalog's layouts; RGB float frames in [0, 1], masks in {0, 1}.

Triplet datasets return dicts with ``frame0``, ``frame1`` (the truth, where there is one),
``frame2`` and ``name``; sequence datasets return sequence objects that read frames on demand.
Every class checks its layout on construction and names the missing path.
"""

from vosvfi_core.data.datasets.davis import DavisSequence, DavisSequences, DavisX2, davis_sequence_names, x2_triplet_count
from vosvfi_core.data.datasets.folder import FolderTriplets
from vosvfi_core.data.datasets.middlebury import INTERPOLATION_EVAL_SEQUENCES, OTHER_SEQUENCES, MiddleburyEval, MiddleburyOther
from vosvfi_core.data.datasets.snufilm import DIFFICULTIES, SnuFilm
from vosvfi_core.data.datasets.tracking import TrackingSequence, TrackingSequences, read_boxes
from vosvfi_core.data.datasets.ucf101 import UCF101Triplets
from vosvfi_core.data.datasets.vimeo import MASKS_SUBDIR, VimeoTriplets

__all__ = [
    "DIFFICULTIES",
    "INTERPOLATION_EVAL_SEQUENCES",
    "MASKS_SUBDIR",
    "OTHER_SEQUENCES",
    "DavisSequence",
    "DavisSequences",
    "DavisX2",
    "FolderTriplets",
    "MiddleburyEval",
    "MiddleburyOther",
    "SnuFilm",
    "TrackingSequence",
    "TrackingSequences",
    "UCF101Triplets",
    "VimeoTriplets",
    "davis_sequence_names",
    "read_boxes",
    "x2_triplet_count",
]
