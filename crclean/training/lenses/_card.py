"""Write a trained lens finder's weights and its model card."""

import hashlib
import json
from pathlib import Path

__all__ = ["write_weights_and_card"]


def _save_weights(model, folder, name):
    """Write ``model``'s state dict atomically to ``folder/<name>.pt``; return the path and its sha256."""
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / f"{name}.pt"
    temporary = weights.with_suffix(".pt.tmp")
    torch.save({key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}, temporary)
    temporary.replace(weights)
    return weights, hashlib.sha256(weights.read_bytes()).hexdigest()


def write_weights_and_card(model, config, state, val_ap50, calibration, *, folder):
    """Save ``model``'s state dict as ``folder/<name>.pt`` and ``<name>.md`` beside it.

    ``calibration`` is what `calibrate_lens_model` returned: the card gives the
    manifest entries (score and theta_E calibration) a shipped model needs.

    Returns
    -------
    dict
        ``weights``, ``card``, ``sha256``, ``steps``, ``val_ap50``, ``calibration``.
    """
    folder = Path(folder)
    weights, sha256 = _save_weights(model, folder, config["name"])
    n_params = sum(p.numel() for p in model.parameters())
    history = "\n".join(f"| {h['step']} | {h['val_ap50']:.3f} |" for h in state["history"])
    card = folder / f"{config['name']}.md"
    mass = "power-law (EPL, slope 1.7-2.3)" if config["bank"].get("wide_lenses") else "SIE"
    start = (f"initialised from `{config['init_weights']}`, then " if config.get("init_weights") else "")
    scene = (f"\n- Scene ranges widened for training (`compose_scene` keywords): `{json.dumps(config['scene'])}`"
             if config.get("scene") else "")
    if config.get("negatives", 1.0) != 1.0:
        scene += (f"\n- Hard negatives: {config['negatives']:g} per window on average (Poisson), "
                  "plus one in most lens-free windows.")
    if config.get("ellipticals"):
        scene += (f"\n- Lens galaxies without arcs: {config['ellipticals']:g} per window on average (Poisson), "
                  "200-60000 sky sigma, so that a bright early-type galaxy alone is not a lens.")
    if config.get("hard_negative_share"):
        scene += (f"\n- Hard-negative mining: `{config['init_weights']}` scored every look-alike in the bank, alone in "
                  f"a window ({config['mining_repeats']} draws each); {config['hard_negative_share']:.0%} of the "
                  f"look-alike draws follow score ** {config['hard_negative_power']:g}, the rest are uniform. "
                  "Validation and calibration windows draw them uniformly.")
    seeing = config.get("scene", {}).get("seeing_range", (0.6, 1.1))
    smooth = config["bank"].get("smooth_source_fraction", 0.0)
    sources = (f"Sersic sources ({1 - smooth:.0%} with star-forming clumps, {smooth:.0%} smooth)" if smooth
               else "clumpy Sersic sources")
    knots = "; rings and spirals with star-forming knots" if config["bank"].get("clumpy_negatives") else ""
    if config["bank"].get("unlensed_negatives"):
        knots += "; chance alignments, a lens galaxy beside unlensed background galaxies"
    if config["bank"].get("extra_negatives"):
        knots += "; " + ", ".join(kind.replace("_", " ") for kind in config["bank"]["extra_negatives"])
    mix = [f"{config['bank'][key]:.0%} {text}" for key, text in (
        ("compact_fraction", "compact (theta_E 0.4-1 arcsec)"),
        ("multiple_image_fraction", "doubles and quads of compact sources")) if config["bank"].get(key)]
    if mix:
        sources += " (of the lenses " + " and ".join(mix) + ")"
    lens_light = "Sersic lens light"
    if config["bank"].get("varied_lenses"):
        lens_light = "Sersic, bulge-plus-disk or disky lens light"
        sources += ", a third of them irregular (several blobs) and a sixth thin and elongated"
    psf = ("Moffat, Gaussian or Kolmogorov PSF (half of them stretched to axis ratios 0.8-1)"
           if config.get("scene", {}).get("psf_families") else "Moffat PSF")
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
    bands = config.get("bands") or []
    band_text = f"{len(bands)} bands ({', '.join(bands)}, each normalised on its own)" if bands else "single band"
    use_text = (f"Needs a tile's {', '.join(bands)} images on one grid (or with WCS): `crclean lenses "
                "'tile_{band}.fits'`." if bands else "It sees no colour, so it cannot use\n  colour to "
                "select candidates.")
    card.write_text(f"""# {config['name']}

RT-DETR strong-lens finder (Zhao et al. 2024, "DETRs Beat YOLOs on Real-time Object Detection"),
{band_text}, one class (`lens`), {n_params / 1e6:.2f} M parameters, trained by
`crclean.training.lenses.train_lenses` on simulated data only.

- File: `{weights.name}` (PyTorch state dict), sha256 `{sha256}`
- Architecture `rtdetr`, config: `{json.dumps(model.config)}`
- Input: sky-subtracted pixels / sky sigma ({band_text}), asinh-stretched (`crclean.lenses._normalise`),
  windows of {config['window']} x {config['window']} pixels at {config['pixel_scale']} arcsec/pixel.
- Intended for: ground-based wide surveys with {seeing[0]:g}-{seeing[1]:g} arcsec seeing (DES, LSST, KiDS, HSC after
  resampling to {config['pixel_scale']} arcsec/pixel). Not for space-based data. {use_text}
- Training data: lenstronomy {mass} + external shear lenses, {lens_light}, {sources},
  theta_E 0.5-3 arcsec, arc S/N 15-300 over the arc footprint; hard negatives (ring galaxies, spirals,
  close pairs with tidal tails, edge-on disks{knots}), field galaxies, stars, {psf}, Gaussian + Poisson noise.
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
