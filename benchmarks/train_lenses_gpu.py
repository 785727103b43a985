"""One lens-training round on a lent GPU in one call: train from carried banks, score out-of-family cutouts.

A lent GPU machine has PyTorch but neither lenstronomy nor GalSim, can reach
nothing, and takes at most 64 MiB of working tree; a session holds it for 15
minutes. So everything slow or needing those packages is done here first, on
the CPU, into the run's folder (``runs/`` is git-ignored; name it in the
device call's ``carry``):

1. ``prepare`` (CPU): the config's stamp banks, compressed
   (`crclean.training.lenses.prepare_banks`; the same as
   ``crclean train lenses --banks-only``), and the out-of-family cutouts of
   ``benchmarks/_cutout_scenes.py`` drawn once and stored as float16 after
   subtracting each plane's median (``cutouts.npz``: a rounding far below
   the cutouts' noise);
2. ``run`` (GPU, or CPU with a few steps as a smoke test): trains with
   `crclean.training.lenses.train_lenses` in the run's folder (which finds
   the banks there), then scores the cutouts with the new weights and with
   the starting model through `crclean.lenses.LensFinder.score_cutouts`,
   and writes to ``--out``: the weights and model card, ``train.log`` and
   ``scores.md`` (AUROC with a paired bootstrap interval, and per category).

The cutouts are only ever scored: training reads the banks alone, and this
script imports no benchmark module until training has finished. The
adoption run itself is ``benchmarks/lens_cutouts.py`` on the CPU, with the
weights brought back (the config's header gives the rule).

On the GPU machine the training process keeps a few torch threads and
``--workers`` processes compose batches ahead (`crclean.training.lenses._prefetch`);
``--time-limit`` stops training early enough for the calibration and the
scoring to finish inside one 10-minute call (a checkpoint, at about 34 MB,
is too large to bring back and resume).

``score`` (CPU) is the adoption run's cutout half for a checkpoint, which
``benchmarks/lens_cutouts.py`` (shipped names only) cannot score: the same
cutouts as that script (seed 20261205, 40 per category, 96 pixels), the
checkpoint and the baseline scored side by side, with the paired bootstrap
interval of their AUROC difference.

Usage::

    python benchmarks/train_lenses_gpu.py score --weights OUT/rtdetr-lens-v29.pt --calibration SLOPE OFFSET
    python benchmarks/train_lenses_gpu.py prepare [--config CONFIG] [--run runs/lenses-v29] [--per-category 8]
    python benchmarks/train_lenses_gpu.py run --out OUT [--config CONFIG] [--run runs/lenses-v29]
                                          [--steps N] [--time-limit 380] [--device auto] [--workers 12]

The device call (its machine has PyTorch but not astropy, which crclean's
training imports: carry astropy's wheels, made once here with ``pip download
astropy==8.0.2 pyerfa==2.0.1.5 astropy-iers-data --no-deps --only-binary=:all:
--python-version 3.12 --platform manylinux2014_x86_64 -d runs/device-wheels``,
13 MB), with ``carry = ["runs/lenses-v29", "runs/device-wheels"]`` and
``timeout_s = 600``::

    python3 -m pip install -q --no-index --no-deps --target /tmp/pydeps runs/device-wheels/*.whl &&
    PYTHONPATH=.:/tmp/pydeps python3 benchmarks/train_lenses_gpu.py run --out "$OUT"
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

_CUTOUTS = "cutouts.npz"


def draw_cutouts(seed, per_category, size):
    """The out-of-family cutouts (GalSim; a CPU here) and their labels, as `score_table` reads them."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _cutout_scenes import make_cutout_set

    images, truths = make_cutout_set(seed, per_category, size=size)
    return images, {"seed": seed, "category": np.array([t.category for t in truths]),
                    "is_lens": np.array([t.is_lens for t in truths]),
                    "resolvable": np.array([t.is_lens and t.theta_e >= 1.3 * t.seeing and t.arc_snr >= 30
                                            for t in truths])}


def prepare(args):
    """Banks and cutouts into ``args.run`` (on a CPU with lenstronomy and GalSim)."""
    from crclean.training.lenses import prepare_banks

    paths = prepare_banks(args.config, out_dir=args.run, log=print)
    images, labels = draw_cutouts(args.seed, args.per_category, args.size)
    sky = np.median(images, axis=(2, 3), keepdims=True).astype(np.float32)
    path = Path(args.run) / _CUTOUTS
    np.savez_compressed(path, images=(images - sky).astype(np.float16), sky=sky, **labels)
    for path in [*paths, path]:
        print(f"wrote {path} ({path.stat().st_size / 2 ** 20:.1f} MiB)")


def _auroc(positive, negative):
    """Probability that a positive outscores a negative, ties half (Mann-Whitney)."""
    greater = (positive[:, None] > negative[None, :]).sum() + 0.5 * (positive[:, None] == negative[None, :]).sum()
    return float(greater / max(len(positive) * len(negative), 1))


def score_table(scores, cutouts, *, draws=1000, seed=0):
    """Markdown: AUROC of each model, the paired bootstrap of the first minus the second, and per category."""
    is_lens, category = cutouts["is_lens"], cutouts["category"]
    names = list(scores)
    rng = np.random.default_rng(seed)
    lenses, others = np.nonzero(is_lens)[0], np.nonzero(~is_lens)[0]
    lines = ["| model | AUROC | lenses >= 0.9 | look-alikes >= 0.9 | resolvable lenses >= 0.9 |",
             "|---|---|---|---|---|"]
    for name in names:
        s = scores[name]
        lines.append(f"| {name} | {_auroc(s[lenses], s[others]):.3f} | {np.mean(s[lenses] >= 0.9):.2f} | "
                     f"{np.mean(s[others] >= 0.9):.2f} | {np.mean(s[cutouts['resolvable']] >= 0.9):.2f} |")
    if len(names) == 2:
        first, second = (scores[name] for name in names)
        differences = []
        for _ in range(draws):  # the same resampled cutouts for both models
            pick_l, pick_o = rng.choice(lenses, len(lenses)), rng.choice(others, len(others))
            differences.append(_auroc(first[pick_l], first[pick_o]) - _auroc(second[pick_l], second[pick_o]))
        low, high = np.percentile(differences, [2.5, 97.5])
        lines.append(f"\nAUROC {names[0]} - {names[1]}: 95% paired bootstrap {low:+.3f} to {high:+.3f}")
    lines += ["", "| category | n | " + " | ".join(f"{n} median, AUROC" for n in names) + " |",
              "|---|---|" + "---|" * len(names)]
    for name_of_category in dict.fromkeys(category):
        chosen = category == name_of_category
        cells = []
        for name in names:
            s = scores[name]
            lens_group = bool(is_lens[chosen].all())
            area = _auroc(s[chosen], s[others]) if lens_group else _auroc(s[lenses], s[chosen])
            cells.append(f"{np.median(s[chosen]):.2f}, {area:.3f}")
        lines.append(f"| {name_of_category} | {chosen.sum()} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _score(spec, network, images, device):
    from crclean.lenses import LensFinder

    finder = LensFinder(spec, network=network, device=device, views=4)
    return np.array([result.score for result in finder.score_cutouts(images, pixel_scale=0.2)])


def compare(weights, name, calibration, baseline, images, cutouts, device):
    """Scores of ``weights`` (a state dict file; Platt ``calibration`` slope and offset) and of the shipped
    ``baseline`` on the same cutouts, through `LensFinder.score_cutouts` (four views); their `score_table`."""
    from dataclasses import replace

    import torch

    from crclean.lenses._manifest import get_lens_model, load_lens_network

    start_spec = get_lens_model(baseline)
    new_spec = replace(start_spec, name=name, score_slope=calibration[0], score_offset=calibration[1])
    network = load_lens_network(start_spec)  # the architecture; its weights are replaced
    network.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    start = time.perf_counter()
    scores = {name: _score(new_spec, network.eval(), images, device),
              baseline: _score(start_spec, None, images, device)}
    header = (f"{len(images)} out-of-family cutouts (seed {int(cutouts['seed'])}, benchmarks/_cutout_scenes.py), "
              f"four views, scored on {device} in {time.perf_counter() - start:.0f} s\n\n")
    return scores, header + score_table(scores, cutouts)


def score(args):
    """The adoption run's cutout half, on a CPU: draw the cutouts as lens_cutouts.py does and compare."""
    import torch

    torch.set_num_threads(args.threads)
    images, cutouts = draw_cutouts(args.seed, args.per_category, args.size)
    _, table = compare(args.weights, Path(args.weights).stem, args.calibration, args.baseline, images, cutouts, "cpu")
    print(table)


def run(args):
    """Train in ``args.run``, then score the cutouts there with the new and the starting model; results to ``--out``."""
    import shutil

    import torch

    from crclean.lenses._manifest import get_lens_model
    from crclean.training.lenses import load_lens_config, train_lenses
    from crclean.training.lenses._train import _bank_path

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = load_lens_config(args.config)
    for seed, shrink in ((config["seed"], 1), (config["seed"] + config["val_bank_seed_offset"], 4)):
        if not _bank_path(config, seed, args.run, shrink)[0].is_file():
            raise SystemExit(f"no bank {_bank_path(config, seed, args.run, shrink)[0]}: run "
                             f"`python benchmarks/train_lenses_gpu.py prepare --config {args.config} --run {args.run}` "
                             "on a CPU first and carry the folder")
    overrides = {"device": args.device, "threads": args.threads, "time_limit_s": args.time_limit,
                 "batch_workers": args.workers}
    if args.steps:
        overrides.update(steps=args.steps, warmup=min(config["warmup"], max(args.steps // 5, 1)),
                         val_every=args.steps, checkpoint_every=args.steps)
    for key in ("val_windows", "calibration_windows"):
        if getattr(args, key):
            overrides[key] = getattr(args, key)
    config = {**config, **overrides}
    log_file = open(out / "train.log", "a")

    def log(message):
        line = f"{time.strftime('%H:%M:%S')} {message}"
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    start = time.perf_counter()
    result = train_lenses(config, out_dir=args.run, resume=args.resume, progress=False, log=log)
    log(f"trained in {time.perf_counter() - start:.0f} s: {json.dumps({k: str(v) for k, v in result.items()})}")
    for path in (result["weights"], result["card"]):
        shutil.copy(path, out / Path(path).name)

    # Only now, after training, are the out-of-family cutouts read.
    with np.load(Path(args.run) / _CUTOUTS) as stored:
        cutouts = {key: stored[key] for key in stored.files}
    images = cutouts.pop("images").astype(np.float32) + cutouts.pop("sky")
    device = "cuda" if torch.cuda.is_available() and args.device != "cpu" else "cpu"
    fitted = result.get("calibration") or {}
    baseline = get_lens_model(args.baseline)
    calibration = (fitted.get("score_slope", baseline.score_slope), fitted.get("score_offset", baseline.score_offset))
    log(f"score calibration {calibration[0]:.3f} / {calibration[1]:.3f} (benchmarks/lenses.py --calibration)")
    scores, table = compare(result["weights"], config["name"], calibration, args.baseline, images, cutouts, device)
    (out / "scores.md").write_text(table + "\n")
    np.savez(out / "scores.npz", **scores)
    log("\n" + table)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    first = commands.add_parser("prepare", help="banks and cutouts into RUN (CPU)")
    second = commands.add_parser("run", help="train, then score the cutouts; results to OUT")
    third = commands.add_parser("score", help="draw the cutouts and compare WEIGHTS with the baseline (CPU)")
    third.add_argument("--weights", required=True, help="a state dict, e.g. OUT/rtdetr-lens-v29.pt brought back")
    third.add_argument("--calibration", nargs=2, type=float, required=True, metavar=("SLOPE", "OFFSET"),
                       help="its Platt calibration (train.log or its model card)")
    third.add_argument("--per-category", type=int, default=40)
    third.add_argument("--seed", type=int, default=20261205)
    third.add_argument("--size", type=int, default=96)
    third.add_argument("--threads", type=int, default=1)
    third.add_argument("--baseline", default="rtdetr-lens-v20")
    for sub in (first, second):
        sub.add_argument("--config", default="experiments/lenses/configs/lenses-v29.toml")
        sub.add_argument("--run", type=Path, default=Path("runs/lenses-v29"))
    first.add_argument("--per-category", type=int, default=8, help="cutouts per category (8: 5.6 MiB to carry)")
    first.add_argument("--seed", type=int, default=20261205)
    first.add_argument("--size", type=int, default=96)
    second.add_argument("--out", type=Path, required=True)
    second.add_argument("--steps", type=int, default=0, help="override the config's steps (a smoke test)")
    second.add_argument("--time-limit", type=float, default=380.0, help="stop training after this many seconds")
    second.add_argument("--device", default="auto")
    second.add_argument("--threads", type=int, default=4, help="torch threads of the training process")
    second.add_argument("--workers", type=int, default=12, help="processes composing batches ahead (0: none)")
    second.add_argument("--val-windows", type=int, default=0)
    second.add_argument("--calibration-windows", type=int, default=0)
    second.add_argument("--baseline", default="rtdetr-lens-v20", help="the starting model, scored beside")
    second.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    {"prepare": prepare, "run": run, "score": score}[args.command](args)


if __name__ == "__main__":
    main()
