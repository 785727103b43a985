"""Train the lens vetter: a CNN that re-grades the detector's candidates.

Stamps come from `vetting_set` on the lens finder's own stamp banks (a
training bank and a smaller validation bank from another seed), rendered
once per run and cached in the output folder. Training is plain binary
cross-entropy with AdamW, a cosine learning rate and random flips and
quarter turns; the weights with the best validation ROC AUC are kept.
"""

import json
import math
import time
from pathlib import Path

import numpy as np

from crclean.training.lenses._config import merge_config
from crclean.training.lenses._train import _bank
from crclean.training.lenses._vetting import vetting_set

__all__ = ["DEFAULT_VETTER_CONFIG", "load_vetter_config", "train_vetter", "roc_auc", "fit_vetter_stacking"]

DEFAULT_VETTER_CONFIG = {
    "task": "lens-vetter", "name": "lens-vetter", "seed": 20261126, "pixel_scale": 0.2, "window": 128,
    "bank": {"n_lenses": 4000, "n_negatives": 3200, "n_field": 3000, "size": 64}, "bank_seed": 20261125,
    "val_bank_seed_offset": 1000, "stamp": 64, "n_train": 60000, "n_val": 4000,
    "steps": 4000, "batch_size": 64, "lr": 2e-3, "weight_decay": 1e-4, "warmup": 200, "val_every": 500,
    "checkpoint_every": 250, "threads": 1, "model": {}, "scene": {},
    "detector": "rtdetr-lens-v2", "mined_tiles": 0, "mined_lenses_per_tile": 8,
    "stacking_tiles": 150, "stacking_tile_size": 1000, "stacking_seed": 20261199,
}


def load_vetter_config(config):
    """Read a vetter training config (TOML path or dict) over `DEFAULT_VETTER_CONFIG`.

    Raises
    ------
    FileNotFoundError
        If the path does not exist.
    ValueError
        On a config for another task, an unknown key or a bad value.
    """
    merged = merge_config(config, DEFAULT_VETTER_CONFIG, task="lens-vetter",
                          positive=("steps", "batch_size", "n_train", "n_val", "stamp", "stacking_tiles",
                                    "stacking_tile_size"))
    for key in ("mined_tiles", "mined_lenses_per_tile"):
        if not isinstance(merged[key], int) or merged[key] < 0:
            raise ValueError(f"{key} must be a non-negative int, got {merged[key]!r}")
    if merged["stamp"] % 8:
        raise ValueError(f"stamp must be a multiple of 8, got {merged['stamp']}")
    from crclean.lenses._manifest import LENS_MODELS

    if merged["detector"] not in LENS_MODELS:
        raise ValueError(f"detector must be a lens model ({', '.join(LENS_MODELS)}), got {merged['detector']!r}")
    return merged


def roc_auc(scores, labels):
    """Area under the ROC curve (the Mann-Whitney U statistic; ties count half)."""
    from scipy.stats import rankdata

    scores, labels = np.asarray(scores, float), np.asarray(labels, bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if not n_pos or not n_neg:
        raise ValueError("ROC AUC needs both classes")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _stamps(config, seed, bank, n, folder, log):
    path = Path(folder) / f"vetting_{seed}_{n}_{config['stamp']}.npz"
    if path.is_file():
        with np.load(path) as stored:
            return stored["stamps"], stored["labels"], stored["kinds"]
    start = time.perf_counter()
    stamps, labels, kinds = vetting_set(seed, bank, n, size=config["stamp"], **config["scene"])
    np.savez(path, stamps=stamps, labels=labels, kinds=kinds)
    log(f"rendered {n} vetting stamps (seed {seed}) in {time.perf_counter() - start:.0f} s")
    return stamps, labels, kinds


def _mined(config, bank, detector, folder, log):
    """The detector's own candidates in seeded tiles of the training bank (cached in ``folder``)."""
    from crclean.lenses import LensFinder
    from crclean.lenses._manifest import get_lens_model
    from crclean.training.lenses._stacking import mined_candidates, stacking_tile

    path = Path(folder) / f"mined_{config['seed']}_{config['detector']}_{config['mined_tiles']}_{config['stamp']}.npz"
    if path.is_file():
        with np.load(path) as stored:
            return stored["stamps"], stored["labels"]
    start = time.perf_counter()
    spec = get_lens_model(config["detector"])
    finder = LensFinder(spec, conf=spec.vetter_floor, device="cpu", network=detector).load()
    finder.vetter = None  # what the detector alone proposes
    rng = np.random.default_rng([config["seed"], 777])
    tiles = (stacking_tile(rng, bank, config["stacking_tile_size"], n_lenses=config["mined_lenses_per_tile"],
                           **config["scene"]) for _ in range(config["mined_tiles"]))
    stamps, labels = mined_candidates(finder, tiles, size=config["stamp"])
    np.savez(path, stamps=stamps, labels=labels)
    log(f"mined {len(labels)} detector candidates ({int(labels.sum())} lenses) from {config['mined_tiles']} tiles "
        f"in {time.perf_counter() - start:.0f} s")
    return stamps, labels


def _augment(batch, rng):
    """Random quarter turns and flips, one of the eight per stamp."""
    import torch

    turns, flips = rng.integers(4, size=len(batch)), rng.integers(2, size=len(batch))
    out = batch.clone()
    for k in range(4):
        for flip in range(2):
            chosen = np.nonzero((turns == k) & (flips == flip))[0]
            if len(chosen):
                part = torch.rot90(batch[chosen], k, dims=(-2, -1))
                out[chosen] = part.flip(-1) if flip else part
    return out


def predict_logits(network, stamps, *, batch_size=256):
    """Vetter logits of ``(n, S, S)`` stamps (numpy in, numpy out)."""
    import torch

    network.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(stamps), batch_size):
            chunk = torch.as_tensor(np.asarray(stamps[start:start + batch_size], np.float32))[:, None]
            out.append(network(chunk).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def train_vetter(config, *, out_dir, resume=False, progress=True, log=None):
    """Train a lens vetter; write ``<name>.pt`` and a model card ``<name>.md`` to ``out_dir``.

    Parameters
    ----------
    config : dict or str or os.PathLike
        Overrides of `DEFAULT_VETTER_CONFIG`, or a TOML file of them (see
        ``crclean/training/configs/lens-vetter-v2.toml``).
    out_dir : str or os.PathLike
        Folder for the stamp banks, the rendered and mined stamps, checkpoints
        (``vetter_checkpoint.pt``, ``vetter_best.pt``) and the final weights and card.
    resume : bool, optional
        Continue from ``out_dir/vetter_checkpoint.pt`` when it exists.
    progress : bool, optional
        Draw a progress bar on stderr.
    log : callable, optional
        Receives one-line status messages.

    Returns
    -------
    dict
        ``weights``, ``card``, ``sha256``, ``steps``, ``val_auc``, ``history`` and
        ``stacking`` (``(a, b, c)``, or None when too few candidates were found to fit it).

    Raises
    ------
    crclean.exceptions.ModelError
        If the config's detector is missing or damaged (before OUT is created).
    """
    import torch

    from crclean._progress import ProgressBar
    from crclean.lenses._manifest import get_lens_model, load_lens_network
    from crclean.models import build_network
    from crclean.training._loop import restore_checkpoint

    config = load_vetter_config(config)
    log = log or (lambda message: None)
    # Before anything is written: a missing or damaged detector fails with OUT untouched.
    detector = load_lens_network(get_lens_model(config["detector"]))
    torch.set_num_threads(int(config["threads"]))
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    bank_config = {"bank": config["bank"], "pixel_scale": config["pixel_scale"]}
    bank = _bank(bank_config, config["bank_seed"], folder, log)
    val_bank = _bank(bank_config, config["bank_seed"] + config["val_bank_seed_offset"], folder, log, shrink=4)
    train_x, train_y, _ = _stamps(config, config["seed"], bank, config["n_train"], folder, log)
    val_x, val_y, val_kinds = _stamps(config, config["seed"] + 1, val_bank, config["n_val"], folder, log)
    if config["mined_tiles"]:
        mined_x, mined_y = _mined(config, bank, detector, folder, log)
        train_x, train_y = np.concatenate([train_x, mined_x]), np.concatenate([train_y, mined_y])

    torch.manual_seed(config["seed"])
    model = build_network("lens-vetter", config["model"])
    optimiser = torch.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    state = {"step": 0, "history": [], "best_auc": -1.0}
    last = folder / "vetter_checkpoint.pt"
    if resume and last.is_file():
        checkpoint = restore_checkpoint(last, {"model": model, "optimiser": optimiser})
        state = json.loads(checkpoint["state"])
        log(f"resumed from {last} at step {state['step']}")
    best = folder / "vetter_best.pt"
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def save(path):
        torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "state": json.dumps(state),
                    "config": json.dumps(config)}, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)

    def validate():
        logits = predict_logits(model, val_x)
        auc = roc_auc(logits, val_y)
        negative = val_y == 0
        false_rate = {str(kind): float((logits[negative & (val_kinds == kind)] > 0).mean())
                      for kind in np.unique(val_kinds[negative])}
        return auc, float((logits[val_y == 1] > 0).mean()), false_rate

    with ProgressBar(config["steps"] - state["step"], "train vetter", enabled=progress) as bar:
        while state["step"] < config["steps"]:
            step = state["step"]
            progress_fraction = max(step - config["warmup"], 0) / max(config["steps"] - config["warmup"], 1)
            factor = (step + 1) / config["warmup"] if step < config["warmup"] else \
                0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress_fraction))
            for group in optimiser.param_groups:
                group["lr"] = config["lr"] * factor
            rng = np.random.default_rng([config["seed"], step])
            chosen = rng.integers(len(train_x), size=config["batch_size"])
            images = _augment(torch.as_tensor(np.asarray(train_x[chosen], np.float32))[:, None], rng)
            model.train()
            loss = loss_fn(model(images), torch.as_tensor(train_y[chosen], dtype=torch.float32))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            state["step"] = step + 1
            bar.update()
            if state["step"] % 50 == 0:
                log(f"step {state['step']} loss {float(loss.detach()):.4f}")
            if state["step"] % config["val_every"] == 0 or state["step"] == config["steps"]:
                auc, recall, false_rate = validate()
                state["history"].append({"step": state["step"], "val_auc": auc, "recall": recall,
                                         "false_rate": false_rate})
                log(f"step {state['step']} validation AUC {auc:.4f} recall@0.5 {recall:.3f} false@0.5 "
                    + " ".join(f"{k} {v:.3f}" for k, v in false_rate.items()))
                if auc > state["best_auc"]:
                    state["best_auc"] = auc
                    torch.save(model.state_dict(), best)
            if state["step"] % config["checkpoint_every"] == 0:
                save(last)
    save(last)
    model.load_state_dict(torch.load(best, map_location="cpu", weights_only=True))
    try:
        stacking = fit_vetter_stacking(model, config, val_bank, detector=detector, log=log)
    except ValueError as error:  # too few candidates in a tiny run
        stacking = {"error": str(error)}
        log(f"no stacking: {error}")
    from crclean.training.lenses._card import write_vetter_card

    return write_vetter_card(model, config, state, stacking, folder=folder)


def fit_vetter_stacking(vetter, config, bank, *, detector=None, log=None):
    """Run ``config['detector']`` over seeded held-out tiles and fit the stacking with ``vetter``.

    ``detector`` is that model's network when already loaded.

    Returns
    -------
    dict
        ``stacking`` ``(a, b, c)``, the number of candidates and of true ones,
        and ``operating_points``: per threshold, precision and recall of the
        stacked score among the candidates.
    """
    from crclean.lenses import LensFinder
    from crclean.lenses._manifest import get_lens_model
    from crclean.lenses._vetting import stacked_score
    from crclean.training.lenses._stacking import fit_stacking, stacking_candidates, stacking_tile

    log = log or (lambda message: None)
    spec = get_lens_model(config["detector"])
    finder = LensFinder(spec, conf=spec.vetter_floor, device="cpu", network=detector).load()
    finder.vetter = None  # the candidates the detector alone proposes
    rng = np.random.default_rng(config["stacking_seed"])
    tiles = (stacking_tile(rng, bank, config["stacking_tile_size"], **config["scene"])
             for _ in range(config["stacking_tiles"]))
    scores, logits, hits = stacking_candidates(finder, vetter, tiles)
    stacking = fit_stacking(scores, logits, hits)
    combined = stacked_score(scores, logits, stacking)
    points = {}
    for threshold in (0.5, 0.7, 0.9):
        chosen = combined >= threshold
        points[threshold] = {"precision": float(hits[chosen].mean()) if chosen.any() else float("nan"),
                             "recall": float(hits[chosen].sum() / max(hits.sum(), 1))}
    log(f"stacking on {len(hits)} candidates ({int(hits.sum())} true): a {stacking[0]:.3f} b {stacking[1]:.3f} "
        f"c {stacking[2]:.3f}")
    return {"stacking": stacking, "candidates": int(len(hits)), "true": int(hits.sum()), "operating_points": points}
