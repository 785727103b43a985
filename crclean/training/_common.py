"""Pieces every training loop shares: configs, the learning-rate schedule, random crops, pools."""

from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

import numpy as np

__all__ = ["EDGE_MARGIN", "read_config", "config_for_task", "warmup_cosine", "random_crops", "CropPool",
           "VALIDATION_SEED_OFFSET"]

#: Validation seeds start here; training seeds stay below.
VALIDATION_SEED_OFFSET = 10_000_000

#: Pixels past an exposure's edge that an edge crop may reach (`random_crops`): crclean's tiles reach half their
#: overlap (16 px by default) past a frame's top and left edges, and up to an alignment step more past the others.
EDGE_MARGIN = 32


def read_config(config, defaults, *, task):
    """Read a TOML training config (path or dict) and fill in ``defaults``.

    Parameters
    ----------
    config : str, pathlib.Path or dict
    defaults : dict
        Section name -> default keys; a section with an empty dict takes any
        keys (a model's constructor arguments).
    task : str
        What the config must train: ``'mask'`` (a config without a ``task``
        entry is one) or ``'inpaint'``.

    Returns
    -------
    dict

    Raises
    ------
    FileNotFoundError
        If the path does not exist.
    ValueError
        On a missing ``name``/``arch``, a config for another task, or an
        unknown key (named with its section).
    """
    config = config_for_task(config, task, default_task="mask")
    for key in ("name", "arch"):
        if key not in config:
            raise ValueError(f"training config needs a {key!r} entry")
    merged = {key: value for key, value in config.items() if key not in defaults}
    for section, section_defaults in defaults.items():
        unknown = set(config.get(section, {})) - set(section_defaults) if section_defaults else set()
        if unknown:
            raise ValueError(f"unknown keys in [{section}]: {', '.join(sorted(unknown))}")
        merged[section] = {**section_defaults, **config.get(section, {})}
    return merged


def config_for_task(config, task, *, default_task):
    """A training config as a dict (read from TOML when given a path), checked to be for ``task``.

    A config without a ``task`` entry is taken to be for ``default_task``.

    Raises
    ------
    FileNotFoundError
        If the path does not exist.
    ValueError
        If the config is for another task (the message names its command).
    """
    if not isinstance(config, dict):
        path = Path(config)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such config file")
        with open(path, "rb") as handle:
            config = tomllib.load(handle)
    found = config.get("task", default_task)
    if found != task:
        raise ValueError(f"this is a config for task {found!r}, not {task!r}; use `crclean train {found}`")
    return config


def warmup_cosine(step, *, warmup, steps):
    """Learning-rate factor: linear warm-up over ``warmup`` steps, then cosine decay to 5%."""
    if step < warmup:
        return (step + 1) / warmup
    t = (step - warmup) / max(1, steps - warmup)
    return float(0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(t, 1.0))))


def random_crops(rng, arrays, batch_size, crop, *, moves=None, edge_share=0.0, edge_pads=None):
    """The same random crops, 90-degree rotations and flips of several stacks.

    Parameters
    ----------
    rng : numpy.random.Generator
    arrays : sequence of numpy.ndarray
        Each ``(n, ..., size, size)``: the last two axes are cropped.
    batch_size, crop : int
    moves : dict, optional
        Filled with what was drawn, for data that must turn with the crops:
        ``index`` (the exposure of each crop), ``rows`` and ``cols`` (its
        first pixel in the exposure, negative past the top or left edge), ``turns`` (quarter turns,
        `numpy.rot90` of the last two axes) and ``flips`` (the last axis
        reversed after turning).
    edge_share : float, optional
        Share of the crops that run up to `EDGE_MARGIN` px past one edge of
        their exposure, filled there as crclean's tiling fills the frame's
        surroundings (`crclean.engine._tiled.run_tiled`): a network trained on
        inner crops only has never seen the mirror image past a frame's edge.
    edge_pads : sequence of str, optional
        Per array, how the part past the edge is filled: ``'reflect'`` (the
        network's input, as at run time) or ``'zero'`` (truth and loss
        weight, so that no loss falls there). Needed with ``edge_share``.

    Returns
    -------
    list of numpy.ndarray
        float32 ``(batch_size, ..., crop, crop)`` per input array.
    """
    n, size = arrays[0].shape[0], arrays[0].shape[-1]
    index = rng.integers(0, n, batch_size)
    rows = rng.integers(0, size - crop + 1, batch_size)
    cols = rng.integers(0, size - crop + 1, batch_size)
    if edge_share and (edge_pads is None or len(edge_pads) != len(arrays)):
        raise ValueError("edge_share needs edge_pads, one fill ('reflect' or 'zero') per array")
    if edge_share:
        # Drawn only when asked for, so that runs without edge crops draw what they always drew.
        _past_an_edge(rng, rows, cols, size - crop, edge_share, min(EDGE_MARGIN, crop - 1))
    out = [np.empty((batch_size, *array.shape[1:-2], crop, crop), np.float32) for array in arrays]
    all_turns, all_flips = np.empty(batch_size, int), np.empty(batch_size, bool)
    for b, (i, r, c) in enumerate(zip(index, rows, cols)):
        turns, flip = rng.integers(0, 4), rng.integers(0, 2)
        all_turns[b], all_flips[b] = turns, flip
        for k, (array, dest) in enumerate(zip(arrays, out)):
            patch = _crop(array[i], r, c, crop, None if edge_pads is None else edge_pads[k])
            patch = np.rot90(patch, turns, axes=(-2, -1))
            dest[b] = patch[..., ::-1] if flip else patch
    if moves is not None:
        moves.update(index=index, rows=rows, cols=cols, turns=all_turns, flips=all_flips)
    return out


def _past_an_edge(rng, rows, cols, last, share, deepest):
    """Move a ``share`` of the crop origins (in place) 1 to ``deepest`` px past one edge, at random (``last``
    is the last origin inside)."""
    moved = np.flatnonzero(rng.random(len(rows)) < share)
    sides = rng.integers(0, 4, moved.size)
    depth = rng.integers(1, deepest + 1, moved.size)
    for b, side, d in zip(moved, sides, depth):
        if side == 0:
            rows[b] = -d
        elif side == 1:
            rows[b] = last + d
        elif side == 2:
            cols[b] = -d
        else:
            cols[b] = last + d


def _crop(array, row, col, crop, pad):
    """``array[..., row:row + crop, col:col + crop]``; past the edges filled by `numpy.pad`, ``'reflect'`` (as
    crclean's tiling fills a frame's surroundings) when ``pad`` says so, else zero."""
    size_y, size_x = array.shape[-2:]
    top, left = max(-row, 0), max(-col, 0)
    bottom, right = max(row + crop - size_y, 0), max(col + crop - size_x, 0)
    if top or left or bottom or right:
        widths = [(0, 0)] * (array.ndim - 2) + [(top, bottom), (left, right)]
        array = np.pad(array, widths, mode="reflect" if pad == "reflect" else "constant")
    return array[..., row + top:row + top + crop, col + left:col + left + crop]


class CropPool:
    """Base of a dataclass of stacked exposures that batches come from.

    Subclasses are dataclasses with an ``inputs`` field and name in
    ``crop_fields`` the fields a batch crops, in order. ``crop_fields`` is a
    plain class attribute, so it is no dataclass field and not in ``vars``.
    """

    crop_fields = ()

    def __len__(self):
        return len(self.inputs)

    def batch(self, rng, batch_size, crop):
        """Random crops with random rotations and flips, as float32 arrays (see `random_crops`)."""
        return random_crops(rng, [getattr(self, field) for field in self.crop_fields], batch_size, crop)
