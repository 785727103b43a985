"""Train the inpainting network: validate, checkpoint, resume, export weights and a model card."""

from functools import partial

import numpy as np

from crclean.training._common import read_config
from crclean.training._loop import cached_pool, fit, predict_stack, start_run
from crclean.training.inpaint._card import write_inpaint_card
from crclean.training.inpaint._data import FillPool, build_fill_pool

__all__ = ["load_inpaint_config", "train_inpaint", "predict_fill_pool"]

_DEFAULTS = {
    "model": {},
    "data": {"profiles": ["ground_thin", "ground_thick", "space"], "size": 256, "train_exposures": 1200,
             "validation_exposures": 48, "cr_rate": [0.5, 3.0], "grow_fraction": 0.5,
             "wings_fraction": 0.75, "star_density": [1.0, 1.0], "seed": 0},
    "train": {"steps": 3000, "batch_size": 8, "crop": 128, "lr": 2e-3, "weight_decay": 1e-4,
              "warmup": 100, "validate_every": 250, "threads": 1, "seed": 0, "huber_delta": 2.0,
              "star_weight": 0.0},
}


def load_inpaint_config(config):
    """Read a TOML inpainter training config (path or dict) and fill in defaults.

    Required keys: ``task = "inpaint"``, ``name`` and ``arch``; see
    ``crclean/training/configs/inpaint.toml``.
    """
    return read_config(config, _DEFAULTS, task="inpaint")


def _pool(out_dir, kind, data, progress):
    """The cached train or validation pool of a run (see `cached_pool`)."""
    build = partial(build_fill_pool, size=data["size"], profiles=data["profiles"], cr_rate=tuple(data["cr_rate"]),
                    grow_fraction=data["grow_fraction"], wings_fraction=data["wings_fraction"],
                    star_density=tuple(data["star_density"]), validation=kind != "train")
    return cached_pool(out_dir, kind, data, pool_type=FillPool, build=build, progress=progress)


def predict_fill_pool(network, pool, *, batch_size=8):
    """The network's raw output on every exposure of a pool (whole, untiled)."""
    return predict_stack(network, pool.inputs, batch_size=batch_size)


def train_inpaint(config, *, out_dir, resume=False, progress=True):
    """Train the inpainting network from a config; see `load_inpaint_config`.

    Writes into ``out_dir``: the simulated pools, ``checkpoint.pt``
    (resumable), ``log.jsonl`` (one line per validation), and at the end
    ``<name>.pt`` (the state dict of the best validation step, lowest
    ``rms_ratio``) with its model card ``<name>.md``.

    Parameters
    ----------
    config : str, pathlib.Path or dict
    out_dir : str or pathlib.Path
    resume : bool, optional
        Continue from ``out_dir/checkpoint.pt``.
    progress : bool, optional

    Returns
    -------
    dict
        Best validation scores (`fill_scores`), with the step they were
        reached at.
    """
    import torch

    from crclean.models import build_network
    from crclean.training.inpaint._loss import fill_loss, fill_scores

    config = load_inpaint_config(config)
    data, train = config["data"], config["train"]
    out_dir, rng = start_run(out_dir, train)

    train_pool = _pool(out_dir, "train", data, progress)
    validation_pool = _pool(out_dir, "validation", data, progress)
    network = build_network(config["arch"], config["model"])

    def batch_loss(network, rng):
        inputs, target, noise, weight, cores = (torch.from_numpy(a) for a in
                                                train_pool.batch(rng, train["batch_size"], train["crop"]))
        weight = weight * (1.0 + train["star_weight"] * cores)
        return fill_loss(network(inputs)[:, 0], inputs[:, 0], target, noise, weight, delta=train["huber_delta"])

    def validate(network):
        return fill_scores(predict_fill_pool(network, validation_pool), validation_pool, data["profiles"])

    best, weights_path = fit(network, train, name=config["name"], out_dir=out_dir, rng=rng, resume=resume,
                             progress=progress, batch_loss=batch_loss, validate=validate,
                             improved=lambda scores, best: scores["rms_ratio"] < best["rms_ratio"],
                             best={"rms_ratio": np.inf}, keep_first=True)
    write_inpaint_card(out_dir / f"{config['name']}.md", config=config, weights_path=weights_path,
                       scores=best, n_parameters=sum(p.numel() for p in network.parameters()))
    return best
