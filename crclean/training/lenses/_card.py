"""Write a trained lens finder's weights and its model card."""

import hashlib
import json
from pathlib import Path

__all__ = ["write_weights_and_card"]


def write_weights_and_card(model, config, state, val_ap50, *, weights_dir=None):
    """Save ``model``'s state dict as ``<name>.pt`` and ``<name>.md`` beside it.

    Returns
    -------
    dict
        ``weights``, ``card``, ``sha256``, ``steps``, ``val_ap50``.
    """
    import torch

    from crclean.weights import SHIPPED_WEIGHTS_DIR

    folder = Path(weights_dir) if weights_dir else SHIPPED_WEIGHTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / f"{config['name']}.pt"
    temporary = weights.with_suffix(".pt.tmp")
    torch.save({key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}, temporary)
    temporary.replace(weights)
    sha256 = hashlib.sha256(weights.read_bytes()).hexdigest()
    n_params = sum(p.numel() for p in model.parameters())
    history = "\n".join(f"| {h['step']} | {h['val_ap50']:.3f} |" for h in state["history"])
    card = folder / f"{config['name']}.md"
    card.write_text(f"""# {config['name']}

RT-DETR strong-lens finder (Zhao et al. 2024, "DETRs Beat YOLOs on Real-time Object Detection"),
single band, one class (`lens`), {n_params / 1e6:.2f} M parameters, trained by
`crclean.training.lenses.train_lenses` on simulated data only.

- File: `{weights.name}` (PyTorch state dict), sha256 `{sha256}`
- Architecture `rtdetr`, config: `{json.dumps(model.config)}`
- Input: sky-subtracted single-band pixels / sky sigma, asinh-stretched (`crclean.lenses._normalise`),
  windows of {config['window']} x {config['window']} pixels at {config['pixel_scale']} arcsec/pixel.
- Intended for: ground-based wide surveys with 0.6-1.1 arcsec seeing (DES, LSST, KiDS, HSC after
  resampling to {config['pixel_scale']} arcsec/pixel). Not for space-based data or for colour-selected
  candidates.
- Training data: lenstronomy SIE + external shear lenses, Sersic lens light, clumpy Sersic sources,
  theta_E 0.5-3 arcsec, arc S/N 15-300 over the arc footprint; hard negatives (ring galaxies, spirals,
  close pairs with tidal tails, edge-on disks), field galaxies, stars, Moffat PSF, Gaussian + Poisson noise.
  Stamp banks: {json.dumps(config['bank'])}; seed {config['seed']}.
- Optimisation: {state['step']} steps of batch {config['batch_size']}, AdamW lr {config['lr']},
  EMA {config['ema_decay']}, gradient clip {config['grad_clip']}.
- Validation AP50 on {config['val_windows']} held-out simulated windows (separate stamp bank): {val_ap50:.3f}

| step | val AP50 |
|---|---|
{history}

Limits: trained on simulations only; performance on real survey tiles is unmeasured. See
`benchmarks/lenses.py` for tile-level numbers (completeness, false positives per square degree).
""")
    return {"weights": weights, "card": card, "sha256": sha256, "steps": state["step"], "val_ap50": val_ap50}
