"""Starting a lens model from an earlier one: checksum-verified weights, widened inputs, added level or depth.

Fine-tuning (``init_weights``) is how every lens model after the first was
made. When the new model is larger than the one it starts from (more input
channels, a fine feature level, identity-start residual blocks in the
backbone), the new tensors are initialised so that it starts computing
(nearly, or for residual blocks exactly) what the earlier model did, and
learns from there.
"""

from pathlib import Path

__all__ = ["initial_weights", "fit_initial_weights", "parameter_groups"]


def initial_weights(source):
    """State dict to fine-tune from: a shipped lens model's name (checksum verified) or a file.

    A name or file of a lens model that crclean no longer ships fails with the
    ``git show`` command that restores its checkpoint.
    """
    import torch

    from crclean.lenses._manifest import LENS_MODELS, removed_checkpoint_hint

    if source in LENS_MODELS:
        from crclean.weights import verified_state_dict, weights_path

        spec = LENS_MODELS[source]
        return verified_state_dict(weights_path(spec), spec.sha256, label=f"lens model {source!r}")
    path = Path(source)
    if not path.is_file():
        restore = removed_checkpoint_hint(path.stem)
        if restore:
            raise FileNotFoundError(f"init_weights {source!r}: crclean no longer ships {path.stem}; restore its "
                                    f"checkpoint from git (`{restore}`, from the repository root) and give that "
                                    "file as init_weights")
        raise FileNotFoundError(f"init_weights {source!r} is neither a lens model ({', '.join(LENS_MODELS)}) "
                                "nor a file")
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("ema", state)


#: The backbone's first convolution, the only weight that sees the input channels.
_FIRST_CONV = "backbone.stem.0.0.weight"


def _widen_input(state, model, log, *, spread=False):
    """Fit a starting model with fewer input channels (no ``input_stretches``) to ``model``.

    The new channels' first-layer weights start at zero, so the widened model
    computes exactly what the starting one did and learns to use them. With
    ``spread`` (a single-band model starting a multi-band one) each band gets
    the single band's weights divided by the number of bands instead: on a
    colourless object, where every band's normalised image is the same, the
    widened model computes what the starting one did, and colour is what it
    learns to use.
    """
    import torch

    wanted = model.state_dict()[_FIRST_CONV].shape
    have = state[_FIRST_CONV].shape
    if have == wanted:
        return state
    if have[0] != wanted[0] or have[2:] != wanted[2:] or have[1] > wanted[1]:
        raise ValueError(f"init_weights has input weights of shape {tuple(have)}; this model needs {tuple(wanted)}")
    widened = dict(state)
    if spread:
        if have[1] != 1:
            raise ValueError(f"only a single-band model can start a multi-band one; init_weights has {have[1]} inputs")
        widened[_FIRST_CONV] = state[_FIRST_CONV].repeat(1, wanted[1], 1, 1) / wanted[1]
        log(f"input channels 1 -> {wanted[1]} bands: each starts with the single band's weights / {wanted[1]}")
        return widened
    widened[_FIRST_CONV] = torch.cat([state[_FIRST_CONV], state[_FIRST_CONV].new_zeros(
        (have[0], wanted[1] - have[1], *have[2:]))], dim=1)
    log(f"input channels {have[1]} -> {wanted[1]}: the new ones start with zero weights")
    return widened


#: Deformable-attention weights laid out as (heads, levels, points, ...) rows.
_LEVEL_ROWS = ("cross_attention.sampling_offsets.", "cross_attention.attention_weights.")

#: Attention logits of an added level start this far below the stride-8 level's, so that
#: the fine-tuned model starts close to the starting one yet gets a gradient to use it.
_NEW_LEVEL_LOGIT_OFFSET = -2.0


def _add_new_tensors(state, model, log):
    """Fit a starting model to ``model``, which may have a fine level or residual blocks it lacks.

    Returns the state dict to load and the names of the parameters that
    start fresh. Tensors the starting model lacks keep their fresh
    initialisation: residual blocks start as the identity that way
    (`crclean.models.rtdetr._backbone`). For an added ``fine_level``, the
    decoder's projection of the level starts at zero (batch norm weight 0),
    so the level adds nothing until training makes it, and each decoder
    layer's deformable attention gets the new level as a copy of the
    stride-8 level's rows, its attention logits lowered by
    ``_NEW_LEVEL_LOGIT_OFFSET``.
    """
    import torch

    wanted = model.state_dict()
    if set(wanted) == set(state):
        return state, set()
    extra = set(state) - set(wanted)
    if extra:
        raise ValueError(f"unexpected key {sorted(extra)[0]!r}")
    attention = model.decoder.layers[0].cross_attention
    heads, levels, points = attention.heads, attention.levels, attention.points
    fitted, fresh = {}, set()
    for key, value in wanted.items():
        if key not in state:
            fitted[key], fresh = value, fresh | {key}
        elif state[key].shape == value.shape:
            fitted[key] = state[key]
        elif any(part in key for part in _LEVEL_ROWS):
            old = state[key].reshape(heads, levels - 1, points, -1, *state[key].shape[1:])
            added = old[:, :1].clone()
            if "attention_weights.bias" in key:
                added += _NEW_LEVEL_LOGIT_OFFSET
            fitted[key] = torch.cat([old, added], dim=1).reshape(value.shape)
        else:
            raise ValueError(f"{key!r} has shape {tuple(state[key].shape)}; this model needs {tuple(value.shape)}")
    added_level = any(key.startswith("encoder.fine_") for key in fresh)
    if added_level:
        silent = f"decoder.input_proj.{levels - 1}.1.weight"
        fitted[silent] = torch.zeros_like(fitted[silent])
        log(f"added a fine level: {sum(not key.startswith('backbone.') for key in fresh)} new tensors, "
            "its decoder projection starting at zero")
    blocks = {key.split(".branch.")[0] for key in fresh if key.startswith("backbone.stages.") and ".branch." in key}
    if blocks:
        log(f"added {len(blocks)} residual blocks to the backbone, each starting as the identity")
    return fitted, fresh


def parameter_groups(model, fresh, scale):
    """AdamW groups: parameters named in ``fresh`` learn ``scale`` times faster."""
    named = list(model.named_parameters())
    groups = [{"params": [p for name, p in named if name not in fresh], "lr_scale": 1.0}]
    if any(name in fresh for name, _ in named):
        groups.append({"params": [p for name, p in named if name in fresh], "lr_scale": float(scale)})
    return groups


def fit_initial_weights(state, model, log, *, spread=False):
    """``state`` fitted to ``model`` (`_widen_input`, then `_add_new_tensors`) and the names that start fresh.

    A widened first convolution counts as fresh: it is the only place where
    the new inputs (colour, for a multi-band model) enter, so it is the
    weight that has most to learn.
    """
    widened = _widen_input(state, model, log, spread=spread)
    fitted, fresh = _add_new_tensors(widened, model, log)
    if widened[_FIRST_CONV].shape != state[_FIRST_CONV].shape:
        fresh = fresh | {_FIRST_CONV}
    return fitted, fresh
