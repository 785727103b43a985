"""Pieces the mask and inpainter training loops share: pool caching, prediction, the step loop."""

import json
import time
from pathlib import Path

import numpy as np

from crclean._progress import ProgressBar
from crclean.io._paths import replace_via_temporary
from crclean.training._common import VALIDATION_SEED_OFFSET, warmup_cosine

__all__ = ["start_run", "cached_pool", "predict_stack", "restore_checkpoint", "fit"]


def start_run(out_dir, train):
    """Make the output folder and seed torch and the batch generator.

    Parameters
    ----------
    out_dir : str or pathlib.Path
    train : dict
        The ``[train]`` section of a training config (``threads``, ``seed``).

    Returns
    -------
    out_dir : pathlib.Path
    rng : numpy.random.Generator
        Seeded with ``train["seed"]``, for `fit`.
    """
    import torch

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(train["threads"])
    torch.manual_seed(train["seed"])
    return out_dir, np.random.default_rng(train["seed"])


def cached_pool(out_dir, kind, data, *, pool_type, build, progress):
    """Simulate a pool once and keep it beside the checkpoints (resume reuses it).

    Parameters
    ----------
    out_dir : pathlib.Path
        Where ``pool_<kind>.npz`` is kept.
    kind : {'train', 'validation'}
    data : dict
        The ``[data]`` section of a training config (``train_exposures``,
        ``validation_exposures``, ``seed``).
    pool_type : type
        The pool dataclass, rebuilt from the cached arrays.
    build : callable
        ``build(n, seed=, split=, progress=)`` simulates ``n`` exposures.
    progress : bool
        Draw a progress bar on stderr.

    Returns
    -------
    pool_type
    """
    cache = out_dir / f"pool_{kind}.npz"
    if cache.exists():
        with np.load(cache) as stored:
            return pool_type(**{key: stored[key] for key in stored.files})
    train = kind == "train"
    n = data["train_exposures"] if train else data["validation_exposures"]
    seed = data["seed"] + (0 if train else VALIDATION_SEED_OFFSET)
    with ProgressBar(n, f"simulating {kind} exposures", enabled=progress) as bar:
        pool = build(n, seed=seed, split="train" if train else "validation", progress=bar.update)
    np.savez(cache, **{key: value for key, value in vars(pool).items() if value is not None})
    return pool


def predict_stack(network, inputs, *, batch_size=8, activation=None):
    """A network's first output channel on every image of a stack (whole, untiled).

    Parameters
    ----------
    network : torch.nn.Module
        Put in eval mode for the prediction and back in train mode after.
    inputs : numpy.ndarray
        ``(n, channels, height, width)`` float32.
    batch_size : int, optional
    activation : callable, optional
        Applied to the network's output (``torch.sigmoid`` for probabilities).

    Returns
    -------
    numpy.ndarray
        ``(n, height, width)`` float32.
    """
    import torch

    network.eval()
    device = next(network.parameters()).device
    out = np.empty((len(inputs), *inputs.shape[-2:]), np.float32)
    with torch.inference_mode():
        for start in range(0, len(inputs), batch_size):
            output = network(torch.from_numpy(inputs[start : start + batch_size]).to(device))
            output = output if activation is None else activation(output)
            out[start : start + batch_size] = output[:, 0].float().cpu().numpy()
    network.train()
    return out


def restore_checkpoint(path, modules):
    """Load a checkpoint and the state dicts of ``modules`` from it.

    Parameters
    ----------
    path : pathlib.Path
    modules : dict
        Checkpoint key -> object with ``load_state_dict`` (network,
        optimiser, scheduler).

    Returns
    -------
    dict
        The whole checkpoint, for the caller's other entries.
    """
    import torch

    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    for key, module in modules.items():
        module.load_state_dict(checkpoint[key])
    return checkpoint


def fit(network, train, *, name, out_dir, rng, resume, progress, batch_loss, validate, improved, best,
        keep_first=False):
    """Train ``network`` with AdamW and a warm-up cosine schedule; validate, checkpoint, resume.

    Every ``validate_every`` steps (and at the last) the scores are appended
    to ``out_dir/log.jsonl`` and everything needed to resume is written to
    ``out_dir/checkpoint.pt`` (keys ``network``, ``optimiser``,
    ``scheduler``, ``step``, ``best``, ``best_state``, ``seconds``, ``rng``).
    At the end the best validation state dict is saved as ``<name>.pt``.

    Parameters
    ----------
    network : torch.nn.Module
    train : dict
        The ``[train]`` section of a training config.
    name : str
        The run's name (progress bar, weights file).
    out_dir : pathlib.Path
    rng : numpy.random.Generator
        Draws the batches; its state is checkpointed.
    resume : bool
        Continue from ``out_dir/checkpoint.pt`` when it exists.
    progress : bool
    batch_loss : callable
        ``batch_loss(network, rng)`` -> the loss of one random batch.
    validate : callable
        ``validate(network)`` -> dict of validation scores.
    improved : callable
        ``improved(scores, best)``: whether ``scores`` beat ``best``.
    best : dict
        The scores to beat before the first validation.
    keep_first : bool, optional
        Keep the first validation's state even if it does not improve.

    Returns
    -------
    best : dict
        Best validation scores, with ``step``, ``loss`` and ``seconds``.
    weights_path : pathlib.Path
    """
    import torch

    optimiser = torch.optim.AdamW(network.parameters(), lr=train["lr"], weight_decay=train["weight_decay"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: warmup_cosine(step, warmup=train["warmup"], steps=train["steps"]))
    step, best_state, seconds = 0, None, 0.0
    checkpoint_path = out_dir / "checkpoint.pt"
    if resume and checkpoint_path.exists():
        state = restore_checkpoint(checkpoint_path,
                                   {"network": network, "optimiser": optimiser, "scheduler": scheduler})
        step, best, best_state, seconds = state["step"], state["best"], state["best_state"], state["seconds"]
        rng.bit_generator.state = json.loads(state["rng"])
    network.train()
    start = time.perf_counter() - seconds
    with ProgressBar(train["steps"], f"training {name}", enabled=progress) as bar:
        bar.update(step)
        while step < train["steps"]:
            loss = batch_loss(network, rng)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimiser.step()
            scheduler.step()
            step += 1
            bar.update(1)
            if step % train["validate_every"] == 0 or step == train["steps"]:
                scores = validate(network)
                scores.update(step=step, loss=float(loss.detach()), seconds=round(time.perf_counter() - start, 1))
                with open(out_dir / "log.jsonl", "a") as log:
                    log.write(json.dumps(scores) + "\n")
                if improved(scores, best) or (keep_first and best_state is None):
                    best = scores
                    # On the CPU: the weights file must load anywhere, and GPU memory stays the network's.
                    best_state = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
                checkpoint = {"network": network.state_dict(), "optimiser": optimiser.state_dict(),
                              "scheduler": scheduler.state_dict(), "step": step, "best": best,
                              "best_state": best_state, "seconds": time.perf_counter() - start,
                              "rng": json.dumps(rng.bit_generator.state)}
                # Through a temporary file: a run killed while saving (a session's hard stop, a GPU call's
                # deadline) keeps its last whole checkpoint to resume or read from.
                replace_via_temporary(checkpoint_path, lambda temporary: torch.save(checkpoint, temporary))
    weights_path = out_dir / f"{name}.pt"
    torch.save(best_state, weights_path)
    return best, weights_path
