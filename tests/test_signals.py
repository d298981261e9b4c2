"""SIGTERM takes Ctrl-C's path: the handler itself, the commands that write (in process), and a real
``vosvfi interpolate-video`` process terminated mid-stream."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from flows.cli import main
from vosvfi_core.checkpoint_format import save_checkpoint
from vosvfi_core.io.signals import Terminated, sigterm_as_interrupt
from vosvfi_core.models import adacof
from vosvfi_core.video.synthetic import moving_pattern, write_clip

ROOT = Path(__file__).resolve().parents[1]


def _sigterm_self() -> None:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)  # the handler raises in this thread long before this ends


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(5)
    path = tmp_path_factory.mktemp("ckpt") / "adacof.pth"
    save_checkpoint(path, adacof(kernel_size=3), epoch=0)
    return path


def test_feature_first_sigterm_raises_later_ones_are_ignored_and_the_old_handler_returns():
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with pytest.raises(Terminated) as caught, sigterm_as_interrupt():
            try:
                _sigterm_self()
            finally:
                os.kill(os.getpid(), signal.SIGTERM)  # during the cleanup: must not interrupt it
                time.sleep(0.05)
        assert isinstance(caught.value, KeyboardInterrupt) and Terminated.exit_code == 143
        assert seen == []
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
        assert seen == [signal.SIGTERM]  # outside, the handler from before is back
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_feature_outside_the_main_thread_nothing_changes():
    import threading

    handlers = []

    def enter() -> None:
        with sigterm_as_interrupt():
            handlers.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=enter)
    thread.start()
    thread.join()
    assert handlers == [signal.getsignal(signal.SIGTERM)]


def test_exception_sigterm_mid_video_leaves_nothing_in_process(checkpoint, tmp_path, capsys, monkeypatch):
    clip = tmp_path / "clip.mp4"
    write_clip(clip, moving_pattern(6, 32, 32), rate=25)

    def terminating(*args, **kwargs):
        def interpolate(frame0, frame2):
            _sigterm_self()

        return interpolate

    monkeypatch.setattr("vosvfi_core.commands.interpolate.model_interpolator", terminating)
    code = main(["interpolate-video", str(clip), "-o", str(tmp_path / "out.mp4"), "--checkpoint", str(checkpoint)])
    assert code == 143 and capsys.readouterr().err.endswith("vosvfi: terminated\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_exception_sigterm_mid_export_leaves_nothing(checkpoint, tmp_path, capsys, monkeypatch):
    real_save = torch.save

    def save_then_terminate(obj, target, *args, **kwargs):
        real_save(obj, target, *args, **kwargs)  # the temporary file is complete here, not yet renamed
        _sigterm_self()

    monkeypatch.setattr(torch, "save", save_then_terminate)
    code = main(["export", str(checkpoint), "-o", str(tmp_path / "model.pth")])
    assert code == 143 and capsys.readouterr().err.endswith("vosvfi: terminated\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize("output", ["out.mp4", "frames"])
def test_exception_sigterm_to_a_running_process_leaves_only_the_inputs(checkpoint, tmp_path, output):
    clip = tmp_path / "long.mp4"
    write_clip(clip, moving_pattern(400, 96, 128), rate=25)
    command = [sys.executable, "-m", "flows.cli", "interpolate-video", str(clip), "-o", str(tmp_path / output), "--checkpoint", str(checkpoint), "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        deadline = time.monotonic() + 120
        while not [p for p in tmp_path.iterdir() if ".partial" in p.name]:  # the output is being written
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "no partial output appeared"
            time.sleep(0.05)
        time.sleep(0.5)
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=60)
    assert child.returncode == 143, stderr
    assert stderr.endswith("vosvfi: terminated\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4"]
