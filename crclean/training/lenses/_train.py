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
from crclean.training.lenses._calibrate import calibrate_lens_model, detect_windows, window_batch
from crclean.training.lenses._config import DEFAULT_TRAIN_CONFIG, load_lens_config
from crclean.training.lenses._metrics import average_precision, match_detections
from crclean.training.lenses._mining import mined_run_weights
from crclean.training.lenses._prefetch import BatchStream
from crclean.training.lenses._bank import build_bank
from crclean.training.lenses._scene import compose_scene, network_input
from crclean.training.lenses._warm_start import fit_initial_weights, initial_weights, parameter_groups

__all__ = ["DEFAULT_TRAIN_CONFIG", "load_lens_config", "train_lenses", "sample_window", "calibration_set",
           "prepare_banks"]


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


def _bank_path(config, seed, folder, shrink):
    sizes = {key: (value // shrink if key.startswith("n_") else value) for key, value in config["bank"].items()}
    # A list option (extra_negatives) joins with '+', so that the name has no brackets or spaces.
    tag = "_".join("+".join(sizes[key]) if isinstance(sizes[key], (list, tuple)) else str(sizes[key])
                   for key in sorted(sizes))
    return Path(folder) / f"bank_{seed}_{config['pixel_scale']}_{tag}.npz", sizes


def _bank(config, seed, folder, log, *, shrink=1, compact=False):
    """The run's stamp bank ``seed``: loaded from ``folder`` if there, else rendered and saved there.

    ``compact`` saves the stamps as compressed float16 (about a fifth of the
    size; a rounding of 1e-4 of a stamp's peak, far below any scene's noise),
    small enough to carry to another machine; either form loads as float32.
    """
    path, sizes = _bank_path(config, seed, folder, shrink)
    if path.is_file():
        from crclean.training.lenses._bank import StampBank

        with np.load(path) as stored:
            return StampBank(pixel_scale=float(stored["pixel_scale"]),
                             **{key: stored[key].astype(np.float32) if stored[key].dtype == np.float16 else stored[key]
                                for key in stored.files if key != "pixel_scale"})
    start = time.perf_counter()
    bank = build_bank(seed, pixel_scale=config["pixel_scale"], **sizes)
    # Optional parts a bank was built without are left out; they load back as None.
    parts = {key: getattr(bank, key) for key in bank.__dataclass_fields__ if getattr(bank, key) is not None}
    if compact:
        parts = {key: value.astype(np.float16) if getattr(value, "dtype", None) == np.float32 and value.ndim == 3
                 else value for key, value in parts.items()}
    temporary = path.with_name(path.stem + ".tmp.npz")
    (np.savez_compressed if compact else np.savez)(temporary, **parts)
    temporary.replace(path)
    log(f"rendered stamp bank {seed} in {time.perf_counter() - start:.0f} s")
    return bank


def prepare_banks(config, *, out_dir, log=None):
    """Render a run's training and validation stamp banks into ``out_dir`` in compact form, and nothing else.

    ``train_lenses`` with the same config and ``out_dir`` then loads them
    instead of rendering: banks can be made on one machine (a CPU) and
    carried to another (a GPU) with the run's folder.

    Returns
    -------
    list of pathlib.Path
        The two bank files.
    """
    config = load_lens_config(config)
    log = log or (lambda message: None)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed, shrink in ((config["seed"], 1), (config["seed"] + config["val_bank_seed_offset"], 4)):
        _bank(config, seed, folder, log, shrink=shrink, compact=True)
        paths.append(_bank_path(config, seed, folder, shrink)[0])
    return paths


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
    # Batches depend on (seed, step) alone, so workers composing ahead give the same run (see _prefetch).
    stream = BatchStream(bank, config, negative_weights, start=state["step"], workers=config["batch_workers"])
    with ProgressBar(config["steps"] - state["step"], "train lenses", enabled=progress) as bar, stream as batches:
        while state["step"] < config["steps"]:
            step = state["step"]
            if config["time_limit_s"] and time.perf_counter() - start > config["time_limit_s"]:
                log(f"time limit reached at step {step}")
                break
            for group in optimiser.param_groups:
                group["lr"] = config["lr"] * group["lr_scale"] * _lr_factor(step, config)
            model.train()
            images, targets = next(batches)
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
