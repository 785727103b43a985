"""Several mask-training runs at once on a lent GPU, in one call, and their soups (issue 28).

Two runs per arm leave the spread between runs of one recipe about as wide as the gates of a round
(experiments/masks/controls-v28.md); a lent GPU can train three or four per arm in the time two cost on
this machine's cores. The training pools are simulated on the GPU machine's CPUs (each run's are about
1 GB, far over what a device call carries), so every run draws exactly the exposures it draws here.

Each config trains in its own process (`crclean train mask --device ...`) in a scratch folder; only the
weights, model card and validation log of each run are copied to ``--out`` (the pools stay behind),
and each ``--soup LABEL=STEM,STEM,...`` is the uniform mean of those runs (`soup.py`). The soups are judged
afterwards on this machine's CPUs with `benchmarks/masks.py --candidate` and `benchmarks/axis_tracks.py`,
with a rule written before scoring, as every round.

Usage (from the repository root; on the device machine ``--out "$OUT"``)::

    python experiments/masks/gpu_round.py --out "$OUT" --device cuda \\
        crclean/training/configs/ccd-v35.toml experiments/masks/ccd-v35-b.toml \\
        --soup v35=ccd-v35,ccd-v35-b

``--smoke`` rewrites each config to a few exposures and steps first (a check on the CPU that the call
works end to end; its weights mean nothing).

``--deadline-minutes M`` stops every run still training after M minutes and keeps the best weights of
its last validation (from its checkpoint): a device call that runs past its limit returns nothing, so
a round that would not finish in time still brings back what it learnt. Set it a minute or two under
the call's ``timeout_s`` (the copies and soups take seconds).
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from soup import uniform_soup  # noqa: E402

SMOKE = {"data": {"train_exposures": 8, "validation_exposures": 2, "size": 128},
         "train": {"steps": 4, "validate_every": 2, "warmup": 1, "batch_size": 2, "crop": 64}}


def smoke_config(path, folder):
    """A copy of the config at ``path`` with `SMOKE`'s sizes, written as TOML into ``folder``."""
    config = tomllib.loads(Path(path).read_text())
    for table, values in SMOKE.items():
        config.setdefault(table, {}).update(values)
    lines = [f"{key} = {json.dumps(value)}" for key, value in config.items() if not isinstance(value, dict)]
    for table, values in config.items():
        if isinstance(values, dict):
            lines += ["", f"[{table}]"] + [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    smoke = Path(folder) / Path(path).name
    smoke.write_text("\n".join(lines) + "\n")
    return smoke


def best_validation(log):
    """(step, TPR at FPR 1e-4, precision at 95% recall) of the best validation line in a run's log."""
    rows = [json.loads(line) for line in Path(log).read_text().splitlines() if "tpr_at_fpr_1e-4" in line]
    best = max(rows, key=lambda row: row["tpr_at_fpr_1e-4"])
    return best["step"], best["tpr_at_fpr_1e-4"], best["precision_at_recall_0.95"]


def wait_until(jobs, deadline):
    """Wait for every run; at ``deadline`` (a `time.perf_counter` value; None: none) stop those still
    going. Returns the stems of the runs stopped."""
    stopped = set()
    for stem, (_, process) in jobs.items():
        left = None if deadline is None else max(deadline - time.perf_counter(), 0.0)
        try:
            process.wait(timeout=left)
        except subprocess.TimeoutExpired:
            process.terminate()  # its checkpoint holds the best weights of its last validation
            process.wait()
            stopped.add(stem)
    return stopped


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--soup", action="append", default=[], metavar="LABEL=STEM,STEM")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--deadline-minutes", type=float, default=None,
                        help="stop runs still training after this long and keep their best weights so far")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="gpu_round_"))
    configs = [smoke_config(c, scratch) if args.smoke else c for c in args.configs]
    start = time.perf_counter()
    jobs = {}
    for config in configs:
        run = scratch / config.stem
        with open(scratch / f"{config.stem}.log", "w") as log:  # the child keeps its own handle
            jobs[config.stem] = (run, subprocess.Popen(
                [sys.executable, "-m", "crclean", "train", "mask", "--config", str(config), "--out", str(run),
                 "--device", args.device, "--quiet"], stdout=log, stderr=subprocess.STDOUT))
    stopped = wait_until(jobs, None if args.deadline_minutes is None else start + 60 * args.deadline_minutes)
    failed = [stem for stem, (_, process) in jobs.items() if stem not in stopped and process.returncode != 0]
    args.out.mkdir(parents=True, exist_ok=True)
    weights = {}
    import torch

    for stem, (run, _) in jobs.items():
        shutil.copy(scratch / f"{stem}.log", args.out / f"{stem}.log")
        if stem in failed:
            continue
        if stem in stopped and not (run / "checkpoint.pt").exists():  # stopped before its first validation
            failed.append(stem)
            continue
        target = args.out / stem
        target.mkdir(exist_ok=True)
        if stem in stopped:
            state = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)
            torch.save(state["best_state"], target / f"{stem}-stopped.pt")
            print(f"{stem}: stopped at the deadline after step {state['step']} of its schedule")
        for path in list(run.glob("*.pt")) + list(run.glob("*.md")) + [run / "log.jsonl"]:
            # Not the checkpoint, nor a hidden temporary one a stopped run was writing.
            if path.name != "checkpoint.pt" and not path.name.startswith(".") and path.exists():
                shutil.copy(path, target / path.name)
        weights[stem] = next(p for p in target.glob("*.pt"))
        step, tpr, precision = best_validation(target / "log.jsonl")
        print(f"{stem}: best validation at step {step}: TPR@1e-4 {tpr:.4f}, precision@95% {precision:.4f}")

    for soup in args.soup:
        label, stems = soup.split("=", 1)
        members = [weights[s] for s in stems.split(",") if s in weights]
        if len(members) >= 2:
            torch.save(uniform_soup(members), args.out / f"soup-{label}.pt")
            print(f"soup {label}: {len(members)} runs")
    print(f"{len(jobs)} runs in {time.perf_counter() - start:.0f} s; failed: {failed or 'none'}")
    shutil.rmtree(scratch, ignore_errors=True)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
