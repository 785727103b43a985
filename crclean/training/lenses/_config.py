"""Lens training configs: defaults, merging and the checks made before any work.

A config is refused at load time, not after a run has started: unknown keys,
out-of-range values, options that do not go together, and a GPU that is not
there.
"""

import copy

from crclean.engine._masker import resolve_device
from crclean.training._common import config_for_task
from crclean.training.lenses._bank import build_bank, check_extra_negatives, check_lens_mix
from crclean.training.lenses._colours import check_bands

__all__ = ["DEFAULT_TRAIN_CONFIG", "SCENE_OPTIONS", "merge_config", "load_lens_config"]

DEFAULT_TRAIN_CONFIG = {
    "task": "lenses", "name": "rtdetr-lens", "seed": 20261123, "pixel_scale": 0.2, "window": 128,
    "bank": {"n_lenses": 1500, "n_negatives": 1600, "n_field": 1500, "size": 64},
    "val_bank_seed_offset": 1000, "val_windows": 300,
    "steps": 5500, "batch_size": 8, "lr": 2e-4, "weight_decay": 1e-4, "warmup": 300,
    "grad_clip": 0.1, "ema_decay": 0.999, "checkpoint_every": 250, "val_every": 1000,
    "time_limit_s": 0, "model": {}, "threads": 1, "init_weights": "", "scene": {}, "ellipticals": 0.0,
    "negatives": 1.0,
    "calibration_windows": 1200, "device": "cpu", "new_lr_scale": 1.0, "bands": [],
    "hard_negative_share": 0.0, "hard_negative_power": 1.0, "mining_repeats": 2, "batch_workers": 0,
}

# Keyword arguments of compose_scene that a config's [scene] table may widen.
SCENE_OPTIONS = ("seeing_range", "arc_snr_range", "lens_to_arc_range", "psf_beta_range", "gaussian_psf_fraction",
                 "gain_range", "field_flux_range", "saturation_fraction", "wide_lookalike_colours", "psf_families",
                 "no_lens_light_fraction", "wide_lens_colours", "nuisances")


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
    workers = merged["batch_workers"]
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"batch_workers must be an int of 0 or more, got {workers!r}")
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
    """``wide_lookalike_colours`` is true or false and ``wide_lens_colours`` true, false or a share within 0-1;
    both only colour something in a multi-band config; ``psf_families`` and ``nuisances`` are true or false;
    ``no_lens_light_fraction`` is within 0-1."""
    for key in ("psf_families", "nuisances", "wide_lookalike_colours", "wide_lens_colours"):
        value = config["scene"].get(key, False)
        share = key == "wide_lens_colours" and isinstance(value, (int, float)) and 0 <= value <= 1
        if not isinstance(value, bool) and not share:
            allowed = "true, false or a share within 0-1" if key == "wide_lens_colours" else "true or false"
            raise ValueError(f"[scene] {key} must be {allowed}, got {value!r}")
        if value and key.startswith("wide_") and not config["bands"]:
            raise ValueError(f"[scene] {key} colours objects, so it needs bands (a multi-band config)")
    fraction = config["scene"].get("no_lens_light_fraction", 0.0)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction <= 1:
        raise ValueError(f"[scene] no_lens_light_fraction must be a number within 0-1, got {fraction!r}")


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
    try:
        check_lens_mix(bank.get("compact_fraction", 0.0), bank.get("multiple_image_fraction", 0.0))
        check_extra_negatives(bank.get("extra_negatives", ()))
    except ValueError as error:
        raise ValueError(f"[bank] {error}") from None
