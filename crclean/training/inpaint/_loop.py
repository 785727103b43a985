"""Train the inpainting network: validate, checkpoint, resume, export weights and a model card."""

import json
import time
from pathlib import Path

import numpy as np

from crclean._progress import ProgressBar
from crclean.training._common import read_config, warmup_cosine
from crclean.training.inpaint._card import write_inpaint_card
from crclean.training.inpaint._data import FillPool, build_fill_pool
from crclean.training.mask._data import VALIDATION_SEED_OFFSET

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
    """Simulate a pool once and keep it beside the checkpoints (resume reuses it)."""
    cache = out_dir / f"pool_{kind}.npz"
    if cache.exists():
        with np.load(cache) as stored:
            return FillPool(**{key: stored[key] for key in stored.files})
    train = kind == "train"
    n = data["train_exposures"] if train else data["validation_exposures"]
    seed = data["seed"] + (0 if train else VALIDATION_SEED_OFFSET)
    with ProgressBar(n, f"simulating {kind} exposures", enabled=progress) as bar:
        pool = build_fill_pool(n, size=data["size"], profiles=data["profiles"], seed=seed,
                               split="train" if train else "validation", cr_rate=tuple(data["cr_rate"]),
                               grow_fraction=data["grow_fraction"], wings_fraction=data["wings_fraction"],
                               star_density=tuple(data["star_density"]),
                               validation=not train, progress=bar.update)
    np.savez(cache, **vars(pool))
    return pool


def predict_fill_pool(network, pool, *, batch_size=8):
    """The network's raw output on every exposure of a pool (whole, untiled)."""
    import torch

    network.eval()
    out = np.empty(pool.target.shape, np.float32)
    with torch.inference_mode():
        for start in range(0, len(pool), batch_size):
            out[start : start + batch_size] = network(torch.from_numpy(pool.inputs[start : start + batch_size]))[:, 0]
    network.train()
    return out


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
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(train["threads"])
    torch.manual_seed(train["seed"])
    rng = np.random.default_rng(train["seed"])

    train_pool = _pool(out_dir, "train", data, progress)
    validation_pool = _pool(out_dir, "validation", data, progress)
    network = build_network(config["arch"], config["model"])
    optimiser = torch.optim.AdamW(network.parameters(), lr=train["lr"], weight_decay=train["weight_decay"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: warmup_cosine(step, warmup=train["warmup"], steps=train["steps"]))
    step, best, best_state, seconds = 0, {"rms_ratio": np.inf}, None, 0.0
    checkpoint_path = out_dir / "checkpoint.pt"
    if resume and checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
        network.load_state_dict(state["network"])
        optimiser.load_state_dict(state["optimiser"])
        scheduler.load_state_dict(state["scheduler"])
        step, best, best_state, seconds = state["step"], state["best"], state["best_state"], state["seconds"]
        rng.bit_generator.state = json.loads(state["rng"])
    network.train()
    start = time.perf_counter() - seconds
    with ProgressBar(train["steps"], f"training {config['name']}", enabled=progress) as bar:
        bar.update(step)
        while step < train["steps"]:
            inputs, target, noise, weight, cores = (torch.from_numpy(a) for a in
                                                    train_pool.batch(rng, train["batch_size"], train["crop"]))
            weight = weight * (1.0 + train["star_weight"] * cores)
            loss = fill_loss(network(inputs)[:, 0], inputs[:, 0], target, noise, weight,
                             delta=train["huber_delta"])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimiser.step()
            scheduler.step()
            step += 1
            bar.update(1)
            if step % train["validate_every"] == 0 or step == train["steps"]:
                scores = fill_scores(predict_fill_pool(network, validation_pool), validation_pool,
                                     data["profiles"])
                scores.update(step=step, loss=float(loss.detach()), seconds=round(time.perf_counter() - start, 1))
                with open(out_dir / "log.jsonl", "a") as log:
                    log.write(json.dumps(scores) + "\n")
                if scores["rms_ratio"] < best["rms_ratio"] or best_state is None:
                    best = scores
                    best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
                torch.save({"network": network.state_dict(), "optimiser": optimiser.state_dict(),
                            "scheduler": scheduler.state_dict(), "step": step, "best": best,
                            "best_state": best_state, "seconds": time.perf_counter() - start,
                            "rng": json.dumps(rng.bit_generator.state)}, checkpoint_path)
    weights_path = out_dir / f"{config['name']}.pt"
    torch.save(best_state, weights_path)
    write_inpaint_card(out_dir / f"{config['name']}.md", config=config, weights_path=weights_path,
                       scores=best, n_parameters=sum(p.numel() for p in network.parameters()))
    return best
