"""Train the RT-DETR lens finder on simulated survey windows.

Each step draws a batch of 128-pixel windows (lenses in about half, hard
negatives in most, field galaxies and stars everywhere) from stamp banks
rendered once per run, so a CPU spends its time on the network. Windows are
seeded by ``(seed, step)``: a resumed run sees the batches an uninterrupted
run would have. Optimisation follows RT-DETR (Zhao et al. 2024): AdamW, a
gradient-norm clip of 0.1, and an exponential moving average of the weights,
which is what gets validated and written.

References
----------
Zhao, Y. et al. 2024, "DETRs Beat YOLOs on Real-time Object Detection", CVPR.
Loshchilov, I. & Hutter, F. 2019, "Decoupled Weight Decay Regularization", ICLR.
"""

import copy
import json
import math
import time
from pathlib import Path

import numpy as np

from crclean.engine._masker import resolve_device
from crclean.training._common import config_for_task
from crclean.training.lenses._calibrate import calibrate_lens_model, detect_windows, window_batch
from crclean.training.lenses._colours import check_bands
from crclean.training.lenses._metrics import average_precision, match_detections
from crclean.training.lenses._mining import mined_run_weights
from crclean.training.lenses._bank import build_bank
from crclean.training.lenses._scene import compose_scene, network_input
from crclean.training.lenses._warm_start import fit_initial_weights, initial_weights, parameter_groups

__all__ = ["DEFAULT_TRAIN_CONFIG", "load_lens_config", "train_lenses", "sample_window", "calibration_set"]

DEFAULT_TRAIN_CONFIG = {
    "task": "lenses", "name": "rtdetr-lens", "seed": 20261123, "pixel_scale": 0.2, "window": 128,
    "bank": {"n_lenses": 1500, "n_negatives": 1600, "n_field": 1500, "size": 64},
    "val_bank_seed_offset": 1000, "val_windows": 300,
    "steps": 5500, "batch_size": 8, "lr": 2e-4, "weight_decay": 1e-4, "warmup": 300,
    "grad_clip": 0.1, "ema_decay": 0.999, "checkpoint_every": 250, "val_every": 1000,
    "time_limit_s": 0, "model": {}, "threads": 1, "init_weights": "", "scene": {}, "ellipticals": 0.0,
    "negatives": 1.0,
    "calibration_windows": 1200, "device": "cpu", "new_lr_scale": 1.0, "bands": [],
    "hard_negative_share": 0.0, "hard_negative_power": 1.0, "mining_repeats": 2,
}

# Keyword arguments of compose_scene that a config's [scene] table may widen.
SCENE_OPTIONS = ("seeing_range", "arc_snr_range", "lens_to_arc_range", "psf_beta_range", "gaussian_psf_fraction",
                 "gain_range", "field_flux_range", "saturation_fraction", "wide_lookalike_colours")


def merge_config(config, defaults, *, task, positive):
    """A lens-family config (TOML path or dict) for ``task`` over ``defaults``, with the checks all share.

    Tables (``[bank]``, ``[scene]``, ...) merge key by key; the keys named in
    ``positive`` must be positive ints; ``[scene]`` takes only `SCENE_OPTIONS`.

    Raises
    ------
    FileNotFoundError
        If the path does not exist.
    ValueError
        On a config for another task, an unknown key or a bad value.
    """
    config = config_for_task(config, task, default_task=task)
    unknown = set(config) - set(defaults)
    if unknown:
        raise ValueError(f"unknown training config keys: {sorted(unknown)}; known: {sorted(defaults)}")
    merged = copy.deepcopy(defaults)
    for key, value in config.items():
        merged[key] = {**merged[key], **value} if isinstance(merged[key], dict) else value
    for key in positive:
        if not isinstance(merged[key], int) or merged[key] < 1:
            raise ValueError(f"{key} must be a positive int, got {merged[key]!r}")
    unknown = set(merged["scene"]) - set(SCENE_OPTIONS)
    if unknown:
        raise ValueError(f"unknown [scene] options: {sorted(unknown)}; known: {list(SCENE_OPTIONS)}")
    return merged


def load_lens_config(config):
    """Read a lens training config (TOML path or dict) over `DEFAULT_TRAIN_CONFIG`.

    Raises
    ------
    FileNotFoundError
        If the path does not exist.
    ValueError
        On a config for another task, an unknown key or a bad value.
    """
    merged = merge_config(config, DEFAULT_TRAIN_CONFIG, task="lenses",
                          positive=("steps", "batch_size", "window", "val_windows", "calibration_windows"))
    if merged["window"] % 32:
        raise ValueError(f"window must be a multiple of 32, got {merged['window']}")
    if not isinstance(merged["device"], str):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {merged['device']!r}")
    scale = merged["new_lr_scale"]
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
        raise ValueError(f"new_lr_scale must be a positive number, got {scale!r}")
    if merged["bands"]:
        _check_band_options(merged)
    _check_colour_options(merged)
    _check_mining_options(merged)
    resolve_device(merged["device"])  # a GPU asked for where there is none fails here, before any work
    _check_bank_options(merged["bank"])
    return merged


def _check_band_options(config):
    """A multi-band config: known bands, a bank that colours look-alikes, and a network with one input per band."""
    bands = check_bands(config["bands"])
    if not config["bank"].get("colour_parts"):
        raise ValueError("a multi-band config needs colour_parts = true in [bank], so that look-alikes are coloured")
    channels = config["model"].get("in_channels", 1)
    if config["model"].get("input_stretches"):
        raise ValueError("input_stretches work on one band; leave them out of a multi-band config")
    if channels != len(bands):
        raise ValueError(f"[model] in_channels must be {len(bands)}, one per band of {list(bands)}, got {channels}")


def _check_colour_options(config):
    """``wide_lookalike_colours`` is true or false, and only colours something in a multi-band config."""
    wide = config["scene"].get("wide_lookalike_colours", False)
    if not isinstance(wide, bool):
        raise ValueError(f"[scene] wide_lookalike_colours must be true or false, got {wide!r}")
    if wide and not config["bands"]:
        raise ValueError("[scene] wide_lookalike_colours colours look-alikes, so it needs bands (a multi-band config)")


def _check_mining_options(config):
    """Hard-negative mining needs a share within 0-1, a positive power and repeat count, and a starting model."""
    share, power, repeats = config["hard_negative_share"], config["hard_negative_power"], config["mining_repeats"]
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise ValueError(f"hard_negative_share must be a number within 0-1, got {share!r}")
    if isinstance(power, bool) or not isinstance(power, (int, float)) or not power > 0:
        raise ValueError(f"hard_negative_power must be a positive number, got {power!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"mining_repeats must be a positive int, got {repeats!r}")
    if share and not config["init_weights"]:
        raise ValueError("hard_negative_share needs init_weights: the look-alikes are mined with the starting model")


def _check_bank_options(bank):
    """Refuse unknown or out-of-range ``[bank]`` options now, not after a run has started."""
    import inspect

    known = set(inspect.signature(build_bank).parameters) - {"seed", "pixel_scale", "progress"}
    unknown = set(bank) - known
    if unknown:
        raise ValueError(f"unknown [bank] options: {sorted(unknown)}; known: {sorted(known)}")
    fraction = bank.get("smooth_source_fraction", 0.0)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction <= 1:
        raise ValueError(f"[bank] smooth_source_fraction must be a number within 0-1, got {fraction!r}")


def sample_window(rng, bank, window, *, negatives=1.0, ellipticals=0.0, with_theta_e=False, bands=None,
                  **scene_options):
    """One training window: normalised image and its lens boxes (pixels).

    With ``bands`` the image is ``(bands, window, window)``, each band with
    its own leftover background and sky-noise estimate, as each band's
    background is removed on its own at run time.

    ``negatives`` and ``ellipticals`` are the mean numbers of hard negatives
    (plus one in most lens-free windows) and of arc-free lens galaxies per window;
    ``scene_options`` go to `compose_scene` (PSF, noise and brightness ranges).
    With ``with_theta_e`` the lenses' Einstein radii (arcsec) come third.
    """
    has_lens = rng.random() < 0.5
    n_lenses = (1 + int(rng.random() < 0.1)) if has_lens else 0
    n_negatives = rng.poisson(negatives) + int(not has_lens and rng.random() < 0.7)
    # Lens galaxies without arcs: drawn only when asked, so older configs keep their windows.
    n_ellipticals = rng.poisson(ellipticals) if ellipticals else 0
    scene = compose_scene(rng, bank, (window, window), n_lenses=n_lenses, n_negatives=n_negatives,
                          n_field=rng.poisson(4.0), n_stars=rng.poisson(1.0), n_ellipticals=n_ellipticals,
                          bands=tuple(bands) if bands else None,
                          **{key: tuple(value) if isinstance(value, list) else value
                             for key, value in scene_options.items()})
    image = network_input(rng, scene)
    return (image, scene.boxes, scene.theta_e) if with_theta_e else (image, scene.boxes)


def _window_options(config):
    return {"negatives": config["negatives"], "ellipticals": config["ellipticals"], "bands": config["bands"],
            **config["scene"]}


def _batch(seed, step, bank, config, negative_weights=None):
    import torch

    rng = np.random.default_rng([seed, step])
    window = config["window"]
    mined = {} if negative_weights is None else {"negative_weights": negative_weights}
    images, targets = [], []
    for _ in range(config["batch_size"]):
        image, boxes = sample_window(rng, bank, window, **_window_options(config), **mined)
        images.append(image)
        xyxy = torch.as_tensor(boxes, dtype=torch.float32) / window
        cxcywh = torch.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, (xyxy[:, 1] + xyxy[:, 3]) / 2,
                              xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]], -1)
        targets.append({"labels": torch.zeros(len(boxes), dtype=torch.long), "boxes": cxcywh})
    return window_batch(images), targets


def calibration_set(config, bank):
    """Held-out windows for the score and theta_E calibration: the validation bank, another stream."""
    rng = np.random.default_rng([config["seed"], 555_555])
    windows, theta_e = [], []
    for _ in range(config["calibration_windows"]):
        image, boxes, radii = sample_window(rng, bank, config["window"], with_theta_e=True, **_window_options(config))
        windows.append((image, boxes))
        theta_e.append(radii)
    return windows, theta_e


def _validation_set(config, bank):
    rng = np.random.default_rng([config["seed"], 999_999])
    return [sample_window(rng, bank, config["window"], **_window_options(config)) for _ in range(config["val_windows"])]


def evaluate_ap50(model, windows, *, batch_size=16):
    """AP at IoU 0.5 of ``model`` over ``(image, boxes)`` windows (on the model's device)."""
    import torch

    model.eval()
    scores, hits, n_truth = [], [], 0
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            chunk = windows[start:start + batch_size]
            results = detect_windows(model, [w[0] for w in chunk], top_k=10)
            for (_, truth), result in zip(chunk, results):
                boxes, score = result["boxes"].numpy(), result["scores"].numpy()
                scores.append(score)
                hits.append(match_detections(boxes, score, truth))
                n_truth += len(truth)
    return average_precision(np.concatenate(scores), np.concatenate(hits), max(n_truth, 1))


def _lr_factor(step, config):
    if step < config["warmup"]:
        return (step + 1) / config["warmup"]
    progress = (step - config["warmup"]) / max(config["steps"] - config["warmup"], 1)
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def _bank(config, seed, folder, log, *, shrink=1):
    sizes = {key: (value // shrink if key.startswith("n_") else value) for key, value in config["bank"].items()}
    tag = "_".join(str(sizes[key]) for key in sorted(sizes))
    path = Path(folder) / f"bank_{seed}_{config['pixel_scale']}_{tag}.npz"
    if path.is_file():
        from crclean.training.lenses._bank import StampBank

        with np.load(path) as stored:
            return StampBank(pixel_scale=float(stored["pixel_scale"]),
                             **{key: stored[key] for key in stored.files if key != "pixel_scale"})
    start = time.perf_counter()
    bank = build_bank(seed, pixel_scale=config["pixel_scale"], **sizes)
    # Optional parts a bank was built without are left out; they load back as None.
    np.savez(path, **{key: getattr(bank, key) for key in bank.__dataclass_fields__ if getattr(bank, key) is not None})
    log(f"rendered stamp bank {seed} in {time.perf_counter() - start:.0f} s")
    return bank


def train_lenses(config, *, out_dir, resume=False, progress=True, log=None):
    """Train an RT-DETR lens finder; write its weights and model card to ``out_dir``.

    Parameters
    ----------
    config : dict or str or os.PathLike
        Overrides of `DEFAULT_TRAIN_CONFIG`, or a TOML file of them (see
        ``crclean/training/configs/lenses-v1.toml``).
    out_dir : str or os.PathLike
        Folder for the stamp banks, checkpoints (``checkpoint.pt``, ``best_ema.pt``),
        and the final ``<name>.pt`` with its model card ``<name>.md``.
    resume : bool, optional
        Continue from ``out_dir/checkpoint.pt`` when it exists.
    progress : bool, optional
        Draw a progress bar on stderr.
    log : callable, optional
        Receives one-line status messages (the CLI echoes them).

    Returns
    -------
    dict
        ``weights`` and ``card`` paths, ``sha256``, ``steps``, ``val_ap50``.

    References
    ----------
    Zhao, Y. et al. 2024, "DETRs Beat YOLOs on Real-time Object Detection", CVPR.
    """
    import torch

    from crclean._progress import ProgressBar
    from crclean.models.rtdetr import SetCriterion, build_rtdetr
    from crclean.training._loop import restore_checkpoint
    from crclean.training.lenses._card import write_weights_and_card

    config = load_lens_config(config)
    log = log or (lambda message: None)
    # Before anything is written: a missing or damaged starting model fails with OUT untouched.
    initial = initial_weights(config["init_weights"]) if config["init_weights"] else None
    torch.set_num_threads(int(config["threads"]))
    torch.manual_seed(config["seed"])
    model = build_rtdetr(config["model"])
    fresh = set()
    if initial is not None:
        # Fine-tuning: start from an earlier model (its EMA weights) rather than from scratch.
        try:
            fitted, fresh = fit_initial_weights(initial, model, log, spread=bool(config["bands"]))
            model.load_state_dict(fitted)
        except (RuntimeError, KeyError, ValueError) as error:
            raise ValueError(f"init_weights {config['init_weights']!r} does not fit this config's model "
                             f"({str(error).splitlines()[0]}); start from a model with the same [model] table") from None
        log(f"initialised from {config['init_weights']}")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config["device"])
    model.to(device)
    if device.type != "cpu":
        log(f"training on {device}")
    ema = copy.deepcopy(model).requires_grad_(False)
    optimiser = torch.optim.AdamW(parameter_groups(model, fresh, config["new_lr_scale"]), lr=config["lr"],
                                  weight_decay=config["weight_decay"])
    criterion = SetCriterion(num_classes=model.config["num_classes"])
    state = {"step": 0, "history": [], "best_ap50": -1.0}
    bank = _bank(config, config["seed"], folder, log)
    # Mined before a checkpoint is restored: the scores are the starting model's, on a resumed run too.
    negative_weights = mined_run_weights(model, bank, config, folder, log, progress=progress)
    last = folder / "checkpoint.pt"
    if resume and last.is_file():
        checkpoint = restore_checkpoint(last, {"model": model, "ema": ema, "optimiser": optimiser})
        state = json.loads(checkpoint["state"])
        log(f"resumed from {last} at step {state['step']}")
    val_bank = _bank(config, config["seed"] + config["val_bank_seed_offset"], folder, log, shrink=4)
    val_windows = _validation_set(config, val_bank)

    def save(path):
        torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "optimiser": optimiser.state_dict(),
                    "state": json.dumps(state), "config": json.dumps(config)}, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)

    start = time.perf_counter()
    with ProgressBar(config["steps"] - state["step"], "train lenses", enabled=progress) as bar:
        while state["step"] < config["steps"]:
            step = state["step"]
            if config["time_limit_s"] and time.perf_counter() - start > config["time_limit_s"]:
                log(f"time limit reached at step {step}")
                break
            for group in optimiser.param_groups:
                group["lr"] = config["lr"] * group["lr_scale"] * _lr_factor(step, config)
            model.train()
            images, targets = _batch(config["seed"], step, bank, config, negative_weights)
            images = images.to(device)
            targets = [{key: value.to(device) for key, value in target.items()} for target in targets]
            loss, parts = criterion(model(images, targets), targets)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config["grad_clip"])
            optimiser.step()
            decay = config["ema_decay"] * (1 - math.exp(-(step + 1) / 2000))
            with torch.no_grad():
                for averaged, current in zip(ema.state_dict().values(), model.state_dict().values()):
                    if averaged.dtype.is_floating_point:
                        averaged.mul_(decay).add_(current.detach(), alpha=1 - decay)
                    else:
                        averaged.copy_(current)
            state["step"] = step + 1
            bar.update()
            if state["step"] % 50 == 0:
                log(f"step {state['step']} loss {float(loss.detach()):.3f} "
                    + " ".join(f"{k} {v:.3f}" for k, v in parts.items()) + f" {time.perf_counter() - start:.0f}s")
            if state["step"] % config["val_every"] == 0:
                ap50 = evaluate_ap50(ema, val_windows)
                state["history"].append({"step": state["step"], "val_ap50": ap50})
                log(f"step {state['step']} validation AP50 {ap50:.3f}")
                if ap50 > state["best_ap50"]:
                    state["best_ap50"] = ap50
                    torch.save(ema.state_dict(), folder / "best_ema.pt")
            if state["step"] % config["checkpoint_every"] == 0:
                save(last)
    save(last)
    if state["history"] and state["history"][-1]["step"] == state["step"]:
        ap50 = state["history"][-1]["val_ap50"]
    else:
        ap50 = evaluate_ap50(ema, val_windows)
        state["history"].append({"step": state["step"], "val_ap50": ap50})
    log(f"final validation AP50 {ap50:.3f} at step {state['step']}")
    ema.cpu()  # calibrated, saved and shipped as CPU tensors
    try:
        calibration = calibrate_lens_model(ema, *calibration_set(config, val_bank), pixel_scale=config["pixel_scale"])
        log(f"score calibration slope {calibration['score_slope']:.3f} offset {calibration['score_offset']:.3f}; "
            f"theta_E = {calibration['theta_e_slope']:.3f} * half-side {calibration['theta_e_offset']:+.3f}")
    except ValueError as error:  # a barely trained model finds too few lenses to fit
        calibration = {"error": str(error)}
        log(f"no calibration: {error}")
    return write_weights_and_card(ema, config, state, ap50, calibration, folder=folder)
