"""Train a mask network: validate, checkpoint, resume, export weights and a model card."""

from functools import partial

import numpy as np

from crclean.training._common import read_config
from crclean.training._loop import cached_pool, fit, predict_stack, start_run
from crclean.training.mask._card import write_model_card
from crclean.training.mask._data import SamplePool, build_pool
from crclean.training.mask._metrics import mask_scores

__all__ = ["load_config", "train_mask", "predict_pool"]

_DEFAULTS = {
    "model": {},
    "data": {"profiles": ["ground_thin", "ground_thick"], "size": 256, "train_exposures": 1200,
             "validation_exposures": 48, "cr_rate": [0.5, 3.0], "cr_scale": [1.0, 1.0], "seed": 0,
             "hard_cases": False, "hot_pixels": "negative", "trails": False, "extras": [],
             "saturated": "negative", "source_weight": 1, "bad_columns": "negative"},
    "train": {"steps": 2500, "batch_size": 8, "crop": 128, "lr": 1e-3, "weight_decay": 1e-4,
              "warmup": 100, "validate_every": 250, "threads": 1, "seed": 0, "init": "",
              "device": "cpu", "edge_crops": 0.0},
}


def load_config(config):
    """Read a TOML training config (path or dict) and fill in defaults.

    Required keys: ``name`` and ``arch``; see
    ``crclean/training/configs/ground.toml`` for a complete example.
    """
    config = read_config(config, _DEFAULTS, task="mask")
    _check_data_options(config["data"])
    if not 0.0 <= config["train"]["edge_crops"] <= 1.0:
        raise ValueError(f"[train] edge_crops must lie in [0, 1], got {config['train']['edge_crops']!r}")
    if not isinstance(config["train"]["device"], str) or not (
            config["train"]["device"] in ("auto", "cpu") or config["train"]["device"].startswith("cuda")):
        raise ValueError(f"[train] device must be 'auto', 'cpu' or 'cuda[:N]', got {config['train']['device']!r}")
    for key in ("psf_size", "psf_skew"):
        if config["model"].get(key) and not config["model"].get("psf_inputs"):
            # Caught here, not when the network is built after minutes of simulating pools.
            raise ValueError(f"[model] {key} needs psf_inputs = true")
    return config


def _check_data_options(data):
    """Refuse a bad ``[data]`` choice when the config is read, not minutes into building a pool."""
    from crclean.training._wide_profiles import EXTRAS

    from crclean.training.mask._data import BAD_COLUMN_CHOICES, HOT_PIXEL_CHOICES, SATURATED_CHOICES

    for key, choices in (("hot_pixels", HOT_PIXEL_CHOICES), ("saturated", SATURATED_CHOICES),
                         ("bad_columns", BAD_COLUMN_CHOICES)):
        if data[key] not in choices:
            raise ValueError(f"[data] {key} must be one of {', '.join(map(repr, choices))}, got {data[key]!r}")
    if not (isinstance(data["source_weight"], int) and 1 <= data["source_weight"] <= 255):
        raise ValueError(f"[data] source_weight must be a whole number from 1 to 255, got {data['source_weight']!r}")
    unknown = sorted(set(data["extras"]) - set(EXTRAS))
    if unknown:
        raise ValueError(f"[data] extras must be among {', '.join(EXTRAS)}; unknown: {', '.join(unknown)}")


def _pool(out_dir, kind, data, progress, *, psf=False, psf_size=False, psf_skew=False):
    """The cached train or validation pool of a run (see `cached_pool`)."""
    build = partial(build_pool, size=data["size"], profiles=data["profiles"], cr_rate=tuple(data["cr_rate"]),
                    cr_scale=tuple(data["cr_scale"]), hard_cases=data["hard_cases"], hot_pixels=data["hot_pixels"],
                    trails=data["trails"], extras=tuple(data["extras"]), saturated=data["saturated"],
                    source_weight=data["source_weight"], bad_columns=data["bad_columns"],
                    psf=psf, psf_size=psf_size, psf_skew=psf_skew)
    return cached_pool(out_dir, kind, data, pool_type=SamplePool, build=build, progress=progress)


def predict_pool(network, pool, *, batch_size=8):
    """Probabilities of a network on every exposure of a pool (whole, untiled), each told its PSF's
    shape when the network takes it (``psf_inputs``)."""
    import torch

    if not getattr(network, "psf_inputs", False):
        return predict_stack(network, pool.inputs[:, None], batch_size=batch_size, activation=torch.sigmoid)
    if pool.psf is None:
        raise ValueError("this network takes the PSF's shape, but the pool was built without it")
    out = np.empty(pool.inputs.shape, np.float32)
    for i, shape in enumerate(pool.psf):
        network.psf_shape.copy_(torch.from_numpy(shape))
        out[i] = predict_stack(network, pool.inputs[i:i + 1, None], activation=torch.sigmoid)[0]
    network.psf_shape.zero_()
    return out


def _load_init(network, path):
    """Start from a state dict; a first convolution with fewer input planes (a network trained before
    ``psf_inputs``) fills the new planes' weights with zeros, and a `ContextBlock` the state lacks keeps
    its initial weights (it starts as the identity), so the start computes what it did."""
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    if getattr(network, "context", None) is not None and not any(key.startswith("context.") for key in state):
        state.update({key: value for key, value in network.state_dict().items() if key.startswith("context.")})
    own = network.state_dict()
    for key, value in state.items():
        target = own.get(key)
        if (target is not None and value.dim() == 4 and target.dim() == 4 and target.shape[0] == value.shape[0]
                and target.shape[1] > value.shape[1] and target.shape[2:] == value.shape[2:]):
            widened = torch.zeros_like(target)
            widened[:, :value.shape[1]] = value
            state[key] = widened
    network.load_state_dict(state)


def train_mask(config, *, out_dir, resume=False, progress=True):
    """Train a mask network from a config; see `load_config`.

    Writes into ``out_dir``: the simulated pools, ``checkpoint.pt`` (resumable),
    ``log.jsonl`` (one line per validation), and at the end ``<name>.pt`` (the
    best validation state dict) with its model card ``<name>.md``.

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
        Best validation scores, with the step they were reached at.
    """
    import torch

    from crclean.engine._masker import resolve_device
    from crclean.models import build_network
    from crclean.training.mask._losses import dice_bce_loss

    config = load_config(config)
    data, train = config["data"], config["train"]
    device = resolve_device(train["device"])
    out_dir, rng = start_run(out_dir, train)

    psf, psf_size, psf_skew = (bool(config["model"].get(key, False)) for key in ("psf_inputs", "psf_size", "psf_skew"))
    told = {"psf": psf, "psf_size": psf_size, "psf_skew": psf_skew}
    train_pool = _pool(out_dir, "train", data, progress, **told)
    validation_pool = _pool(out_dir, "validation", data, progress, **told)
    network = build_network(config["arch"], config["model"])
    if train["init"]:
        # Fine-tuning: start from a state dict (a path relative to where the run starts).
        _load_init(network, train["init"])
    network.to(device)

    def batch_loss(network, rng):
        batch = train_pool.batch(rng, train["batch_size"], train["crop"], edge_share=train["edge_crops"])
        inputs, target, weight = (torch.from_numpy(a[:, None]).to(device) for a in batch[:3])
        shape = torch.from_numpy(batch[3]).to(device) if psf else None
        return dice_bce_loss(network(inputs) if shape is None else network(inputs, psf_shape=shape), target, weight)

    def validate(network):
        return mask_scores(predict_pool(network, validation_pool), validation_pool.target,
                           ignore=validation_pool.weight == 0, star_cores=validation_pool.star_cores)

    best, weights_path = fit(network, train, name=config["name"], out_dir=out_dir, rng=rng, resume=resume,
                             progress=progress, batch_loss=batch_loss, validate=validate,
                             improved=lambda scores, best: scores["tpr_at_fpr_1e-4"] > best["tpr_at_fpr_1e-4"],
                             best={"tpr_at_fpr_1e-4": -1.0})
    write_model_card(out_dir / f"{config['name']}.md", config=config, weights_path=weights_path,
                     scores=best, n_parameters=sum(p.numel() for p in network.parameters()))
    return best
