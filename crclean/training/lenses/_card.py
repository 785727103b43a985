"""Write a trained lens finder's weights and its model card."""

import hashlib
import json
from pathlib import Path

__all__ = ["write_weights_and_card"]


def write_weights_and_card(model, config, state, val_ap50, calibration, *, folder):
    """Save ``model``'s state dict as ``folder/<name>.pt`` and ``<name>.md`` beside it.

    ``calibration`` is what `calibrate_lens_model` returned: the card gives the
    manifest entries (score and theta_E calibration) a shipped model needs.

    Returns
    -------
    dict
        ``weights``, ``card``, ``sha256``, ``steps``, ``val_ap50``, ``calibration``.
    """
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / f"{config['name']}.pt"
    temporary = weights.with_suffix(".pt.tmp")
    torch.save({key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}, temporary)
    temporary.replace(weights)
    sha256 = hashlib.sha256(weights.read_bytes()).hexdigest()
    n_params = sum(p.numel() for p in model.parameters())
    history = "\n".join(f"| {h['step']} | {h['val_ap50']:.3f} |" for h in state["history"])
    card = folder / f"{config['name']}.md"
    start = (f"initialised from `{config['init_weights']}`, then " if config.get("init_weights") else "")
    scene = (f"\n- Scene ranges widened for training (`compose_scene` keywords): `{json.dumps(config['scene'])}`"
             if config.get("scene") else "")
    if config.get("negatives", 1.0) != 1.0:
        scene += (f"\n- Hard negatives: {config['negatives']:g} per window on average (Poisson), "
                  "plus one in most lens-free windows.")
    if config.get("ellipticals"):
        scene += (f"\n- Lens galaxies without arcs: {config['ellipticals']:g} per window on average (Poisson), "
                  "200-60000 sky sigma, so that a bright early-type galaxy alone is not a lens.")
    seeing = config.get("scene", {}).get("seeing_range", (0.6, 1.1))
    if "error" in calibration:
        calibrated = f"- Score and theta_E calibration: not fitted ({calibration['error']}).\n"
    else:
        points = "; ".join(f"calibrated >= {threshold:g} gives precision {point['precision']:.2f} at recall "
                           f"{point['recall']:.2f}" for threshold, point in calibration["operating_points"].items())
        calibrated = f"""- Score calibration (Platt, on {config['calibration_windows']} further held-out windows; the manifest
  applies it before `--conf`): `p = sigmoid({calibration['score_slope']:.3f} * logit(raw) {calibration['score_offset']:+.3f})`.
  On those windows: {points}.
- theta_E estimate: `{calibration['theta_e_slope']:.3f} * mean box half-side (arcsec) {calibration['theta_e_offset']:+.3f}`,
  rms scatter {calibration['theta_e_scatter']:.2f} arcsec on the found lenses.
"""
    card.write_text(f"""# {config['name']}

RT-DETR strong-lens finder (Zhao et al. 2024, "DETRs Beat YOLOs on Real-time Object Detection"),
single band, one class (`lens`), {n_params / 1e6:.2f} M parameters, trained by
`crclean.training.lenses.train_lenses` on simulated data only.

- File: `{weights.name}` (PyTorch state dict), sha256 `{sha256}`
- Architecture `rtdetr`, config: `{json.dumps(model.config)}`
- Input: sky-subtracted single-band pixels / sky sigma, asinh-stretched (`crclean.lenses._normalise`),
  windows of {config['window']} x {config['window']} pixels at {config['pixel_scale']} arcsec/pixel.
- Intended for: ground-based wide surveys with {seeing[0]:g}-{seeing[1]:g} arcsec seeing (DES, LSST, KiDS, HSC after
  resampling to {config['pixel_scale']} arcsec/pixel). Not for space-based data or for colour-selected
  candidates.
- Training data: lenstronomy SIE + external shear lenses, Sersic lens light, clumpy Sersic sources,
  theta_E 0.5-3 arcsec, arc S/N 15-300 over the arc footprint; hard negatives (ring galaxies, spirals,
  close pairs with tidal tails, edge-on disks), field galaxies, stars, Moffat PSF, Gaussian + Poisson noise.
  Stamp banks: {json.dumps(config['bank'])}; seed {config['seed']}.{scene}
- Optimisation: {start}{state['step']} steps of batch {config['batch_size']}, AdamW lr {config['lr']},
  EMA {config['ema_decay']}, gradient clip {config['grad_clip']}.
- Validation AP50 on {config['val_windows']} held-out simulated windows (separate stamp bank): {val_ap50:.3f}

| step | val AP50 |
|---|---|
{history}

{calibrated}
Limits: trained on simulations only; performance on real survey tiles is unmeasured. See
`benchmarks/lenses.py` for tile-level numbers (completeness, false positives per square degree).
""")
    return {"weights": weights, "card": card, "sha256": sha256, "steps": state["step"], "val_ap50": val_ap50,
            "calibration": calibration}
