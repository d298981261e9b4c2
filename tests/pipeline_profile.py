"""The tiny pipeline profile the pipeline tests share (32x32 frames, one training step)."""

TINY_PROFILE = {
    "name": "tiny",
    "task_runner": {"kind": "threads", "max_workers": 2},
    "data": {
        "synthetic": {
            "seed": 0,
            "height": 32,
            "width": 32,
            "train_count": 4,
            "test_count": 2,
            "davis_count": 1,
            "davis_frames": 5,
            "tracking_count": 1,
            "tracking_frames": 2,
        }
    },
    "masks": {"segmenter": "ground_truth", "shard_size": 6},  # 4 triplets x 3 frames: 2 shards
    "train": {
        "dataset": "synthetic",
        "crop": 32,
        "batch_size": 4,
        "epochs": 1,
        "checkpoint_every": 1000,
        "log_every": 1,
        "device": "cpu",
        # A VOS term, so that training reads the masks stage's masks.
        "losses": "1*Charb+0.01*g_Spatial+0.005*g_Occlusion+0.1*Seg",
        "teacher": {"type": "pixel_affinity", "stride": 4},
    },
    "evaluate": {"datasets": ["synthetic", "synthetic_davis"], "protocols": ["float", "uint8"], "pictures": 1, "device": "cpu"},
    "downstream": {"checks": [{"type": "foreground_psnr", "dataset": "synthetic_davis"}], "device": "cpu"},
}
