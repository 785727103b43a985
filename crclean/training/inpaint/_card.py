"""The model card of a trained inpainting network."""

from crclean.training._card import training_summary, write_card

__all__ = ["write_inpaint_card"]


def write_inpaint_card(path, *, config, weights_path, scores, n_parameters):
    """Write the model card of a trained inpainting network beside its weights file.

    Parameters
    ----------
    path, weights_path, n_parameters
        As in `crclean.training._card.write_card`.
    config : dict
        The training config (after `load_inpaint_config`).
    scores : dict
        Best validation scores (from `fill_scores`, plus ``step`` and ``seconds``).
    """
    data, train = config["data"], config["train"]
    architecture_note = ("; input: the `grow` fill in asinh sky-noise units and the hole map; output: a bounded "
                         "correction to the fill (`crclean.inpaint._learned`)")
    lines = [
        f"- intended for: {config.get('instruments', 'see the training data')}; filling pixels a "
        "cosmic-ray mask flags (`--inpaint learned`)",
        "- input: any units; the image is put in units of its local sky noise "
        "(`crclean.engine.background_mesh`), so gain and bias need not be known",
        f"- training data: crclean's simulator, profiles {', '.join(data['profiles'])}; "
        f"{data['train_exposures']} exposures of {data['size']}x{data['size']} px, "
        f"cosmic-ray rate {data['cr_rate'][0]}-{data['cr_rate'][1]} /cm^2/s, seeds from {data['seed']}; "
        "real LSST ITL footprints from the training split (fp_id % 5 != 0); masks: the true cosmic "
        f"rays, grown by 1 px in {data['grow_fraction']:.0%} of exposures, with the faint wings in "
        f"{data['wings_fraction']:.0%}, plus the detector defects; stars {data['star_density'][0]:g}-"
        f"{data['star_density'][1]:g} times the profile's density",
        training_summary(scores, train) +
        f"Huber loss (delta {train['huber_delta']}) of (fill - clean) / noise on cosmic-ray pixels, "
        f"star cores weighted {1 + train['star_weight']:g}x, "
        f"{scores.get('seconds', '?')} s on {train['threads']} CPU thread(s)",
        f"- validation ({data['validation_exposures']} held-out exposures, held-out seeds and "
        "footprints, untiled; the benchmark's mask: cosmic rays and wings grown by 1 px, plus "
        "defects): RMS of (fill - clean) / noise on cosmic-ray pixels",
        "",
        "| profile | learned | grow (its starting fill) | learned, star cores | grow, star cores |",
        "|---|---|---|---|---|",
    ]
    for name in data["profiles"]:
        if f"rms_{name}" in scores:  # a profile with no cosmic-ray pixel has no score
            cores = [f"{scores[key]:.3f}" if key in scores else "-"
                     for key in (f"core_rms_{name}", f"grow_core_rms_{name}")]
            lines.append(f"| {name} | {scores[f'rms_{name}']:.3f} | {scores[f'grow_rms_{name}']:.3f} | "
                         f"{cores[0]} | {cores[1]} |")
    lines += ["", f"Mean ratio learned / grow: {scores['rms_ratio']:.3f}.", "",
              "Made by `crclean train inpaint`; see docs/training.md.", ""]
    write_card(path, config=config, weights_path=weights_path, n_parameters=n_parameters, body=lines,
               architecture_note=architecture_note)
