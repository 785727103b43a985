"""Model cards for trained mask networks."""

from crclean.weights import sha256_of

__all__ = ["write_model_card"]


def write_model_card(path, *, config, weights_path, scores, n_parameters):
    """Write a markdown model card beside a weights file.

    Parameters
    ----------
    path : pathlib.Path
        The card.
    config : dict
        The training config (after `load_config`).
    weights_path : pathlib.Path
        The exported state dict.
    scores : dict
        Best validation scores (from `mask_scores`, plus ``step``).
    n_parameters : int
    """
    data, train = config["data"], config["train"]
    lines = [
        f"# {config['name']}",
        "",
        f"- file: `{weights_path.name}` ({weights_path.stat().st_size / 1e6:.2f} MB)",
        f"- sha256: `{sha256_of(weights_path)}`",
        f"- architecture: `{config['arch']}` {config['model']} ({n_parameters:,} parameters)",
        f"- intended for: {config.get('instruments', 'see the training data')}",
        "- input: any units; crclean normalises by the local sky background and noise "
        "(`crclean.engine.noise_normalise`), so gain and bias need not be known",
        f"- training data: crclean's simulator, profiles {', '.join(data['profiles'])}; "
        f"{data['train_exposures']} exposures of {data['size']}x{data['size']} px, "
        f"cosmic-ray rate {data['cr_rate'][0]}-{data['cr_rate'][1]} /cm^2/s, seeds from {data['seed']}; "
        "real LSST ITL footprints from the training split (fp_id % 5 != 0) for thick CCDs",
        f"- training: {scores.get('step', '?')} of {train['steps']} steps (best validation), "
        f"batch {train['batch_size']} x {train['crop']}^2 crops, AdamW lr {train['lr']}, "
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
    path.write_text("\n".join(lines))
