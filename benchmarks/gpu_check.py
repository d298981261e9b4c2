"""Every check that needs a CUDA GPU in one run, each part under its own time limit, and a table of the results.

    benchmarks/gpu_check.sh [--dry-run] [--only PART,PART] [--out DIR] [--budget SECONDS]

Each part runs in a subprocess of its own process group and is stopped, with everything it
started, at its limit: one that hangs costs its limit and the rest still run. The whole run stays
within ``--budget`` seconds (a part that would start with too little left reads SKIP). One row per
part: its status (ok, FAIL, TIMEOUT or SKIP), the figure it measured, the goal, and its seconds.
The table goes to stdout and ``DIR/gpu_check.md`` (rewritten after every part), the parts' whole
output to ``DIR/gpu_check.log``. The exit status is 0 when every part that ran read ok.

The parts, in order: ``imports`` (CUDA and CuPy usable; the library paths used here import no
Prefect or pyiqa), ``pytest-cuda`` (the tests marked ``cuda``), ``sampling-diff`` (the CuPy
sampling kernels against the PyTorch reference: outputs and all four gradients, both modes,
256x448 and 1080p), ``evaluate`` (a random-weight checkpoint scored on a small synthetic set on
CUDA and on the CPU by ``score_dataset``, as ``vosvfi evaluate`` scores it; again with TF32 off),
``sampling-speed`` (bench_sampling.py: PyTorch over CuPy time), ``train-step`` (bench_train_step.py:
fp32 against bf16 AMP, plain and with STCN), ``masks`` (bench_masks.py: DeepLabV3 masks per second) and ``video``
(bench_video.py: ``interpolate-video`` 720p x2 in fp32, bf16 and fp16). Random weights throughout.

``--dry-run`` runs what needs no GPU: ``imports`` without requiring CUDA, CPU smoke runs of
``sampling-diff`` and ``evaluate`` (tiny sizes, CPU against CPU), and two probes of the time limit
(``probe-timeout`` sleeps past its limit in a child and a grandchild and must read TIMEOUT;
``probe-after`` must still run); the other parts read SKIP.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
PY = sys.executable
RESULT = "RESULT "  # the line prefix of the JSON that this file's own parts print
MIN_START_S = 15  # a part that would get fewer seconds than this is skipped
# Imported by the parts; a GPU machine may hold only torch's stack, so none of them may need these.
MODULES = (
    "kernels",
    "vosvfi_core.checkpoint_format",
    "vosvfi_core.config",
    "vosvfi_core.data.sets",
    "vosvfi_core.data.synthetic",
    "vosvfi_core.devices",
    "vosvfi_core.evaluation",
    "vosvfi_core.evaluation.scoring",
    "vosvfi_core.interpolation",
    "vosvfi_core.masks",
    "vosvfi_core.models.registry",
    "vosvfi_core.training",
    "vosvfi_core.training.trainer",
    "vosvfi_core.video",
    "vosvfi_core.video.synthetic",
    "vosvfi_core.vos.pixel_affinity",
    "vosvfi_core.vos.stcn",
)
ABSENT = ("prefect", "pyiqa")
# (height, width, kernel size F, dilation d): bench_sampling.py's cases.
SAMPLING_CASES = ((256, 448, 5, 1), (1080, 1920, 11, 2))
OUT_TOL, GRAD_TOL, PSNR_TOL, SPEED_GOAL, MASKS_GOAL = 1e-5, 1e-4, 1e-3, 10.0, 300.0


@dataclass
class Part:
    name: str
    limit: float  # seconds, for all its commands together
    goal: str
    commands: list[list[str]]  # run in turn; the first that fails ends the part
    judge: Callable[[str], tuple[bool, str]] | None  # whole output -> (goal met, figure); None: SKIP
    expect: str = "ok"


@dataclass
class Row:
    part: str
    status: str
    figure: str
    goal: str
    seconds: float = 0.0
    passed: bool = field(default=False, repr=False)


# --- judges: a part's output -> (goal met, figure) -------------------------------------------------


def _result(output: str) -> dict:
    lines = [line for line in output.splitlines() if line.startswith(RESULT)]
    if not lines:
        raise ValueError("no RESULT line")
    return json.loads(lines[-1][len(RESULT) :])


def judge_imports(need_cuda: bool) -> Callable[[str], tuple[bool, str]]:
    def judge(output: str) -> tuple[bool, str]:
        r = _result(output)
        cupy = "cupy ok" if r["cupy"] else f"cupy unusable ({r['cupy_reason']})"
        figure = f"torch {r['torch']}, {r['device']}, {cupy}, {r['modules']} modules without {'/'.join(ABSENT)}"
        return (r["cuda"] and r["cupy"]) or not need_cuda, figure

    return judge


def judge_pytest(output: str) -> tuple[bool, str]:
    summary = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed|skipped|errors?)\b|no tests ran", line)]
    if not summary:
        raise ValueError("no pytest summary line")
    counts = {word.rstrip("s"): int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|errors?|deselected)", summary[-1])}
    figure = ", ".join(f"{n} {word}" for word, n in counts.items())
    ok = counts.get("passed", 0) > 0 and not any(counts.get(word) for word in ("failed", "skipped", "error"))
    return ok, figure


def judge_sampling_diff(output: str) -> tuple[bool, str]:
    r = _result(output)
    out, grad = max(row["out"] for row in r["rows"]), max(row["grad_rel"] for row in r["rows"])
    return out <= OUT_TOL and grad <= GRAD_TOL, f"max diff out {out:.1e}, grads {grad:.1e} of max ({len(r['rows'])} size+mode pairs)"


_SAMPLING_ROW = re.compile(r"^\s*(\d+x\d+) F=\d+ d=\d+\s+(legacy|bilinear)\s+(cupy|torch)\s+\S+\s+(\S+)\s+\S+\s+(\S+)\s+\S+\s*$")


def sampling_ratios(output: str) -> dict[str, dict[str, float]]:
    """bench_sampling.py's table -> {size: {"fwd": min ratio, "fwd+bwd": min ratio}}: torch time over cupy time, the lower mode."""
    times: dict[tuple[str, str, str], tuple[float, float]] = {}
    for line in output.splitlines():
        if match := _SAMPLING_ROW.match(line):
            size, mode, backend, forward, both = match.groups()
            times[size, mode, backend] = (float(forward), float(both))
    ratios: dict[str, dict[str, float]] = {}
    for (size, mode, backend), (forward, both) in times.items():
        if backend == "cupy" and (size, mode, "torch") in times:
            torch_forward, torch_both = times[size, mode, "torch"]
            entry = ratios.setdefault(size, {"fwd": float("inf"), "fwd+bwd": float("inf")})
            entry["fwd"] = min(entry["fwd"], torch_forward / forward)
            entry["fwd+bwd"] = min(entry["fwd+bwd"], torch_both / both)
    if not ratios:
        raise ValueError("no cupy/torch pair of rows")
    return ratios


def judge_sampling_speed(output: str) -> tuple[bool, str]:
    ratios = sampling_ratios(output)
    figure = "; ".join(f"{size}: fwd {r['fwd']:.1f}x, fwd+bwd {r['fwd+bwd']:.1f}x" for size, r in ratios.items())
    return len(ratios) == len(SAMPLING_CASES) and all(v >= SPEED_GOAL for r in ratios.values() for v in r.values()), figure


_TRAIN_ROW = re.compile(r"^(\S+)\s+(\d+)\s+(.+?)\s+([\d.]+)\s+([\d.]+)\s+[\d.]+x\s*$")


def train_step_medians(output: str) -> dict[str, tuple[float, float]]:
    """bench_train_step.py's table -> {variant: (fp32 median s, bf16 median s)} for the first model and size it lists."""
    medians: dict[str, tuple[float, float]] = {}
    first = None
    for line in output.splitlines():
        if match := _TRAIN_ROW.match(line):
            model, size, variant, fp32, bf16 = match.groups()
            first = first or (model, size)
            if (model, size) == first:
                medians[variant] = (float(fp32), float(bf16))
    return medians


def judge_train_step(output: str) -> tuple[bool, str]:
    m = train_step_medians(output)
    stcn = next((variant for variant in m if "stcn" in variant), None)
    if "plain" not in m or stcn is None:
        raise ValueError(f"found variants {sorted(m)}, not plain and an stcn one")
    (plain32, plain16), (stcn32, stcn16) = m["plain"], m[stcn]
    figure = (
        f"fp32/bf16 time: plain {plain32 / plain16:.2f}x, stcn {stcn32 / stcn16:.2f}x; stcn/plain: fp32 {stcn32 / plain32:.2f}, bf16 {stcn16 / plain16:.2f}"
    )
    return plain16 < plain32, figure


def judge_masks(output: str) -> tuple[bool, str]:
    rates = {int(b): float(r) for b, r in re.findall(r"^ours, batch (\d+)\s+\d+\s+([\d.]+)\s", output, flags=re.M)}
    if not rates:
        raise ValueError("no 'ours, batch N' row")
    return max(rates.values()) >= MASKS_GOAL, ", ".join(f"batch {b}: {r:.0f}/s" for b, r in rates.items())


def judge_video(output: str) -> tuple[bool, str]:
    rates, precision = {}, None
    for line in output.splitlines():
        if header := re.search(r"\bprecision=(\w+)", line):
            precision = header.group(1)
        elif (match := re.search(r"([\d.]+) output frames/s", line)) and precision:
            rates[precision] = float(match.group(1))
    if len(rates) != 3:
        raise ValueError(f"found {len(rates)} of the 3 precisions")
    return True, ", ".join(f"{p} {r:.1f}" for p, r in rates.items()) + " output fps"


def judge_evaluate(output: str) -> tuple[bool, str]:
    r = _result(output)
    figure = f"max dPSNR {r['psnr']:.1e} dB, dSSIM {r['ssim']:.1e} ({r['samples']} samples {r['size']})"
    if r.get("psnr_no_tf32") is not None:
        figure += f"; TF32 off: {r['psnr_no_tf32']:.1e} dB"
    return r["psnr"] <= PSNR_TOL, figure


def judge_probe(output: str) -> tuple[bool, str]:
    return "probe ran" in output, "ran after the TIMEOUT"


# --- the parts ------------------------------------------------------------------------------------


def _self(part: str, *extra: str) -> list[str]:
    return [PY, str(Path(__file__).resolve()), "--part", part, *extra]


def _bench(script: str, *extra: str) -> list[str]:
    return [PY, str(BENCH / script), *extra]


def cuda_test_files() -> list[str]:
    return sorted(str(path.relative_to(ROOT)) for path in (ROOT / "tests").glob("test_*.py") if "pytest.mark.cuda" in path.read_text())


def build_parts(dry_run: bool) -> list[Part]:

    def gpu(judge: Callable[[str], tuple[bool, str]]) -> Callable[[str], tuple[bool, str]] | None:
        return None if dry_run else judge  # dry run: no judge, the part reads SKIP

    diff_args = ("--device", "cpu") if dry_run else ("--device", "cuda")
    eval_args = ("--devices", "cpu", "cpu", "--size", "32x32", "--samples", "2") if dry_run else ("--devices", "cuda", "cpu")
    parts = [
        Part("imports", 45, "CUDA + CuPy usable; no Prefect/pyiqa", [_self("imports", *(() if dry_run else ("--need-cuda",)))], judge_imports(not dry_run)),
        Part(
            "pytest-cuda",
            90,
            "all pass, none skipped",
            [[PY, "-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider", *cuda_test_files()]],
            gpu(judge_pytest),
        ),
        Part(
            "sampling-diff",
            60,
            f"cupy vs torch: out <= {OUT_TOL:.0e}, grads <= {GRAD_TOL:.0e} of max",
            [_self("sampling-diff", *diff_args)],
            judge_sampling_diff,
        ),
        Part("evaluate", 60, f"cuda vs cpu: dPSNR <= {PSNR_TOL:.0e} dB", [_self("evaluate", *eval_args)], judge_evaluate),
        Part(
            "sampling-speed",
            100,
            f"torch/cupy time >= {SPEED_GOAL:.0f}x",
            [_bench("bench_sampling.py", "--device", "cuda", "--repeats", "3")],
            gpu(judge_sampling_speed),
        ),
        Part(
            "train-step",
            75,
            "bf16 AMP step faster than fp32",
            [_bench("bench_train_step.py", "--device", "cuda", "--models", "adacof", "--sizes", "256", "--batch", "4", "--repeats", "10")],
            gpu(judge_train_step),
        ),
        Part(
            "masks",
            120,
            f">= {MASKS_GOAL:.0f} masks/s at 448x256",
            [
                _bench(
                    "bench_masks.py",
                    *("--device", "cuda", "--size", "256x448", "--frames", "240", "--batch-sizes", "8", "32", "--original-frames", "12", "--repeats", "2"),
                )
            ],
            gpu(judge_masks),
        ),
        Part(
            "video",
            120,
            "anchor: RIFE 30+ fps 720p x2 (2080 Ti)",
            [_bench("bench_video.py", "--device", "cuda", "--no-4k", "--frames", "31", "--precision", p) for p in ("fp32", "bf16", "fp16")],
            gpu(judge_video),
        ),
    ]
    if dry_run:
        # A child and a grandchild that both outlive the limit: the whole process group must go.
        sleeper = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
        parts += [
            Part("probe-timeout", 2, "TIMEOUT at its 2 s limit", [[PY, "-c", sleeper]], judge_probe, expect="TIMEOUT"),
            Part("probe-after", 20, "runs after a TIMEOUT", [[PY, "-c", "print('probe ran')"]], judge_probe),
        ]
    return parts


# --- the runner -----------------------------------------------------------------------------------


def run_part(part: Part, seconds_left: float, log) -> Row:
    def row(status: str, figure: str, seconds: float = 0.0) -> Row:
        return Row(part.name, status, figure, part.goal, seconds, passed=status == part.expect or (status == "SKIP" and part.judge is None))

    if part.judge is None:
        return row("SKIP", "dry run")
    limit = min(part.limit, seconds_left)
    if limit < min(MIN_START_S, part.limit):
        return row("SKIP", f"budget: {seconds_left:.0f} s left")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    start = time.monotonic()
    output = []
    for command in part.commands:
        log.write(f"\n=== {part.name} (limit {limit:.0f} s): {' '.join(command)}\n")
        log.flush()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            text, _ = process.communicate(timeout=max(0.1, start + limit - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # its own group: the part's children go with it
            text, _ = process.communicate()
            log.write(text)
            return row("TIMEOUT", f"stopped at {limit:.0f} s", time.monotonic() - start)
        log.write(text)
        output.append(text)
        if process.returncode != 0:
            last = (text.strip().splitlines() or [""])[-1][:100]
            return row("FAIL", f"exit {process.returncode}: {last}", time.monotonic() - start)
    try:
        met, figure = part.judge("".join(output))
    except (ValueError, KeyError) as error:
        return row("FAIL", f"could not read the figure: {error}", time.monotonic() - start)
    return row("ok" if met else "FAIL", figure, time.monotonic() - start)


def format_table(rows: list[Row]) -> str:
    header = ("part", "status", "figure", "goal", "s")
    cells = [header, *((r.part, r.status, r.figure.replace("|", "/"), r.goal, f"{r.seconds:.0f}") for r in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(cell.ljust(width) for cell, width in zip(line, widths)) + " |" for line in cells]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def run(parts: list[Part], out: Path, budget: float, banner: str) -> list[Row]:
    out.mkdir(parents=True, exist_ok=True)
    deadline, rows = time.monotonic() + budget, []
    with open(out / "gpu_check.log", "w") as log:
        for part in parts:
            result = run_part(part, deadline - time.monotonic(), log)
            rows.append(result)
            log.write(f"--- {part.name}: {result.status} {result.figure} ({result.seconds:.0f} s)\n")
            log.flush()
            print(f"{result.part}: {result.status} ({result.seconds:.0f} s)", file=sys.stderr, flush=True)
            (out / "gpu_check.md").write_text(f"{banner}\n\n{format_table(rows)}\n")
    return rows


# --- this file's own parts, each run as a child: ``--part NAME`` ----------------------------------


def bench_commands() -> list[tuple[str, list[str]]]:
    """(part, command) for every command of the GPU run that is a benchmarks/bench_*.py script."""
    return [(part.name, c) for part in build_parts(dry_run=False) for c in part.commands if Path(c[1]).parent == BENCH and Path(c[1]).name.startswith("bench_")]


def part_imports(need_cuda: bool) -> None:
    for name in ABSENT:
        sys.modules[name] = None  # type: ignore[assignment]  # any import of it now fails
    for name in MODULES:
        importlib.import_module(name)
    sys.path.insert(0, str(BENCH))
    scripts = sorted({Path(command[1]).stem for _, command in bench_commands()})
    for script in scripts:
        importlib.import_module(script)
    sys.path.insert(0, str(ROOT / "tests"))
    tests = ["conftest", *(Path(path).stem for path in cuda_test_files())]  # what pytest-cuda collects
    for name in tests:
        importlib.import_module(name)
    # The flags the parts pass must still be the scripts' own (others edit these scripts).
    for part, command in bench_commands():
        source = Path(command[1]).read_text()
        missing = [flag for flag in command[2:] if flag.startswith("--") and f'"{flag}"' not in source]
        if missing:
            raise SystemExit(f"{Path(command[1]).name} takes no {', '.join(missing)} (part {part})")
    import torch

    import kernels

    cuda = torch.cuda.is_available()
    if need_cuda and not cuda:
        print("torch sees no CUDA device")
    result = {
        "torch": torch.__version__,
        "cuda": cuda,
        "device": torch.cuda.get_device_name(0) if cuda else "no CUDA",
        "cupy": kernels.CUPY_AVAILABLE,
        "cupy_reason": kernels.CUPY_UNAVAILABLE_REASON,
        "modules": len(MODULES) + len(scripts) + len(tests),
    }
    print(RESULT + json.dumps(result))


def _offsets(shape: tuple[int, ...], device) -> object:
    """Whole numbers in [-3, 3] plus a fraction in [0.15, 0.85]: never near an integer, where the op kinks and rounding could pick another pixel."""
    import torch

    return torch.randint(-3, 4, shape, device=device) + 0.15 + 0.7 * torch.rand(shape, device=device)


def part_sampling_diff(device_name: str) -> None:
    import torch

    from kernels import SAMPLING_MODES, adacof_sample

    device = torch.device(device_name)
    backends = ("cupy", "torch") if device.type == "cuda" else ("torch", "torch")  # on the CPU: the code path only
    cases = SAMPLING_CASES if device.type == "cuda" else ((12, 20, 5, 1),)
    torch.manual_seed(0)
    rows = []
    for height, width, kernel_size, dilation in cases:
        reach, taps = (kernel_size - 1) * dilation, kernel_size * kernel_size
        image = torch.rand(1, 3, height + reach, width + reach, device=device)
        weight = torch.rand(1, taps, height, width, device=device).softmax(1)
        alpha, beta = _offsets(weight.shape, device), _offsets(weight.shape, device)
        grad_out = torch.rand(1, 3, height, width, device=device)
        for mode in SAMPLING_MODES:
            results = []
            for backend in backends:
                leaves = [t.clone().requires_grad_() for t in (image, weight, alpha, beta)]
                out = adacof_sample(*leaves, dilation=dilation, mode=mode, backend=backend)
                out.backward(grad_out)
                results.append([out.detach(), *(leaf.grad for leaf in leaves)])
            (fast, reference) = results
            grad_rel = max(((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item() for a, b in zip(fast[1:], reference[1:]))
            rows.append({"size": f"{height}x{width}", "mode": mode, "out": (fast[0] - reference[0]).abs().max().item(), "grad_rel": grad_rel})
            del results, fast, reference
        del image, weight, alpha, beta, grad_out
        if device.type == "cuda":
            torch.cuda.empty_cache()
    for row in rows:
        print(f"{row['size']:>10} {row['mode']:>9} out {row['out']:.2e} grads {row['grad_rel']:.2e} of max")
    print(RESULT + json.dumps({"backends": backends, "rows": rows}))


def part_evaluate(devices: list[str], size: str, samples: int) -> None:
    """What ``vosvfi evaluate`` runs per data set (score_dataset), for one random-weight checkpoint on two devices."""
    import tempfile

    import torch

    from vosvfi_core.checkpoint_format import save_checkpoint
    from vosvfi_core.config import EvaluateConfig
    from vosvfi_core.data.synthetic import write_vimeo_triplets
    from vosvfi_core.evaluation.scoring import score_dataset
    from vosvfi_core.models.registry import MODELS

    height, width = (int(v) for v in size.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as folder:
        root = write_vimeo_triplets(Path(folder) / "synthetic", train_count=0, test_count=samples, height=height, width=width, seed=0)
        torch.manual_seed(0)
        checkpoint = Path(folder) / "random.pth"
        save_checkpoint(checkpoint, MODELS.build({"type": "adacof"}), epoch=0)

        def scores(device: str) -> dict[tuple[str, str, str], float]:
            config = EvaluateConfig(device=device, baselines=[])
            rows = score_dataset("synthetic", root, {"adacof": checkpoint}, config)["eval_results"]
            return {(r["sample"], r["protocol"], r["metric"]): r["value"] for r in rows if r["model"] == "adacof"}

        def largest_gap(first: dict, second: dict, metric: str) -> float:
            return max((abs(first[key] - second[key]) for key in first if key[2] == metric), default=float("nan"))

        first, second = scores(devices[0]), scores(devices[1])
        result = {"size": size, "samples": samples, "psnr": largest_gap(first, second, "psnr"), "ssim": largest_gap(first, second, "ssim")}
        result["mean_psnr"] = statistics.mean(v for k, v in second.items() if k[2] == "psnr")
        if "cuda" in devices:  # convolutions on CUDA run in TF32 unless told not to
            torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
            result["psnr_no_tf32"] = largest_gap(scores(devices[0]), second, "psnr")
    print(f"PSNR on {devices[1]}: mean {result['mean_psnr']:.3f} dB over {samples} samples")
    print(RESULT + json.dumps(result))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="run what needs no GPU; the GPU parts read SKIP")
    parser.add_argument("--only", help="comma-separated parts to run (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "gpu_check", help="folder for gpu_check.md and gpu_check.log (default runs/gpu_check)")
    parser.add_argument("--budget", type=float, default=450, help="seconds for the whole run (default 450)")
    parser.add_argument("--part", help=argparse.SUPPRESS)  # internal: run one of this file's own parts
    parser.add_argument("--need-cuda", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cuda", help=argparse.SUPPRESS)
    parser.add_argument("--devices", nargs=2, default=["cuda", "cpu"], help=argparse.SUPPRESS)
    parser.add_argument("--size", default="256x448", help=argparse.SUPPRESS)
    parser.add_argument("--samples", type=int, default=8, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        own = {
            "imports": lambda: part_imports(args.need_cuda),
            "sampling-diff": lambda: part_sampling_diff(args.device),
            "evaluate": lambda: part_evaluate(args.devices, args.size, args.samples),
        }
        own[args.part]()
        return 0

    parts = build_parts(args.dry_run)
    if args.only:
        wanted = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in wanted if name not in {p.name for p in parts}]
        if unknown:
            parser.error(f"--only: unknown part {', '.join(unknown)}; parts: {', '.join(p.name for p in parts)}")
        parts = [p for p in parts if p.name in wanted]
    if args.budget <= 0:
        parser.error(f"--budget must be > 0 seconds, got {args.budget:g}")
    banner = f"gpu_check{' --dry-run' if args.dry_run else ''}: python {sys.version.split()[0]}, budget {args.budget:.0f} s"
    rows = run(parts, args.out, args.budget, banner)
    print(banner)
    print(format_table(rows))
    return 0 if all(r.passed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
