"""Is a lens model short of data or of capacity? AP@50 on its training stamps against held-out ones.

Draws windows as validation does (scenes as in training, look-alikes drawn
uniformly) from a training config's stamp bank (the stamps a model trained on
that config has seen) and from the config's held-out validation bank, the
same number from each and with the same scene stream, and prints each model's
AP@50 on both. A model that has learnt its training stamps rather than lenses
scores higher on them than on held-out stamps (overfitting: more or more
varied data would help). If the two agree, and a model that never saw the
training bank scores as well on it, more rounds on the same kind of data will
not help: what is left is the model's capacity, or information the windows do
not hold (faint and small lenses).

AP@50 ranks the raw scores, so no score calibration is needed and any
checkpoint can be given.

Usage::

    python benchmarks/lens_fit_gap.py --config crclean/training/configs/lenses-v18.toml \\
        rtdetr-lens-v17 runs/lenses-v18/rtdetr-lens-v18.pt [--windows 800] [--bank-dir DIR] [--threads 1]
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from lenses import _network


def _load(model):
    """A shipped lens model by name, or a checkpoint file."""
    from crclean.lenses._manifest import LENS_MODELS, get_lens_model, load_lens_network

    if model in LENS_MODELS:
        return load_lens_network(get_lens_model(model))
    if not Path(model).is_file():
        raise SystemExit(f"{model} is neither a lens model ({', '.join(LENS_MODELS)}) nor a checkpoint file")
    return _network(model)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", metavar="MODEL", help="lens model names or checkpoint files")
    parser.add_argument("--config", required=True, help="the training config whose banks to draw from")
    parser.add_argument("--windows", type=int, default=800, help="windows from each bank")
    parser.add_argument("--bank-dir", help="keep the rendered banks here (default: a temporary folder)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.windows < 1:
        parser.error(f"--windows must be at least 1, got {args.windows}")

    import torch

    from crclean.training.lenses import load_lens_config
    from crclean.training.lenses._train import _bank, _window_options, evaluate_ap50, sample_window

    torch.set_num_threads(args.threads)
    config = load_lens_config(args.config)
    networks = {model: _load(model) for model in args.models}  # before the banks: a bad name fails at once
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.bank_dir or scratch
        Path(folder).mkdir(parents=True, exist_ok=True)
        banks = {"training bank": _bank(config, config["seed"], folder, print),
                 "held-out bank": _bank(config, config["seed"] + config["val_bank_seed_offset"], folder, print,
                                        shrink=4)}
    windows = {}
    for name, bank in banks.items():
        # The same scene stream for both banks (neither training's nor validation's), so only the stamps differ.
        rng = np.random.default_rng([config["seed"], 424_242])
        windows[name] = [sample_window(rng, bank, config["window"], **_window_options(config))
                         for _ in range(args.windows)]

    print(f"\nAP@50 on {args.windows} windows from each of {config['name']}'s banks "
          f"(training seed {config['seed']})\n")
    print("| model | training bank | held-out bank | difference |")
    print("|---|---|---|---|")
    for model, network in networks.items():
        seen, held_out = (evaluate_ap50(network, windows[name]) for name in banks)
        print(f"| {model} | {seen:.3f} | {held_out:.3f} | {seen - held_out:+.3f} |")


if __name__ == "__main__":
    main()
