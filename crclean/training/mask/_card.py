"""Model cards for trained mask networks."""

from crclean.training._card import training_summary, write_card

__all__ = ["write_model_card"]


def write_model_card(path, *, config, weights_path, scores, n_parameters):
    """Write the model card of a trained mask network beside its weights file.

    Parameters
    ----------
    path, weights_path, n_parameters
        As in `crclean.training._card.write_card`.
    config : dict
        The training config (after `load_config`).
    scores : dict
        Best validation scores (from `mask_scores`, plus ``step``).
    """
    data, train = config["data"], config["train"]
    lines = [
        f"- intended for: {config.get('instruments', 'see the training data')}",
        "- input: any units; crclean normalises by the local sky background and noise "
        "(`crclean.engine.noise_normalise`), so gain and bias need not be known",
        f"- training data: crclean's simulator, profiles {', '.join(data['profiles'])}; "
        f"{data['train_exposures']} exposures of {data['size']}x{data['size']} px, "
        f"cosmic-ray rate {data['cr_rate'][0]}-{data['cr_rate'][1]} /cm^2/s, seeds from {data['seed']}; "
        "real LSST ITL footprints from the training split (fp_id % 5 != 0) for thick CCDs",
        training_summary(scores, train) +
        f"loss (1 - dice + BCE) / 2, ignore band excluded, {scores.get('seconds', '?')} s on "
        f"{train['threads']} CPU thread(s)",
        f"- validation ({data['validation_exposures']} held-out exposures, held-out seeds and "
        "footprints, untiled):",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for key in ("tpr_at_fpr_1e-4", "tpr_at_fpr_1e-3", "precision_at_recall_0.95", "dice",
                "star_core_fp", "n_truth"):
        if key in scores:
            value = scores[key]
            lines.append(f"| {key} | {value:.4f} |" if isinstance(value, float) else f"| {key} | {value} |")
    lines += ["", "Made by `crclean train mask`; see docs/training.md.", ""]
    write_card(path, config=config, weights_path=weights_path, n_parameters=n_parameters, body=lines)
