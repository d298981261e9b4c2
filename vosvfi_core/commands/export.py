"""``vosvfi export CKPT -o model.pth [--half {fp16,bf16}] [--overwrite]``: a weights-only inference file."""

from __future__ import annotations

import argparse
from pathlib import Path

from vosvfi_core.checkpoint_format import export_inference
from vosvfi_core.commands.outputs import add_overwrite_flag, check_output
from vosvfi_core.errors import VosvfiError

__all__ = ["register"]


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def _export(args: argparse.Namespace) -> int:
    source, output = Path(args.checkpoint), Path(args.output)
    if not source.is_file():
        raise VosvfiError(f"checkpoint not found: {source}")
    if output.is_dir():
        raise VosvfiError(f"-o {output} is a folder; name the file to write (e.g. {output / 'model.pth'})")
    if output.exists() and output.resolve() == source.resolve():
        raise VosvfiError(f"-o {output} is the checkpoint itself; choose another output")
    check_output(output, overwrite=args.overwrite, what="output")
    export_inference(source, output, half=args.half or False)
    stored = {"fp16": "float16", "bf16": "bfloat16"}.get(args.half, "float32")
    print(f"{output}: {_size(output)} of {stored} weights (from {source}, {_size(source)})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    export = subparsers.add_parser(
        "export",
        help="write a checkpoint's weights alone (no optimiser state) for interpolate and evaluate",
        description="Write the weights of any AdaCoF checkpoint (training, published or exported) to a smaller inference file.",
    )
    export.add_argument("checkpoint", help="the checkpoint to read (training last.pth, a published .pth, or an inference file)")
    export.add_argument("-o", "--output", required=True, help="the inference file to write, e.g. model.pth")
    export.add_argument(
        "--half",
        nargs="?",
        const="fp16",
        choices=("fp16", "bf16"),
        help="store the weights as fp16 (--half alone) or bf16: half the size; loading casts them back to float32",
    )
    add_overwrite_flag(export)
    export.set_defaults(handler=_export)
