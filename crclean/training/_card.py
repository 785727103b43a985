"""What every model card of a trained network starts with, and how it is written."""

from crclean.weights import sha256_of

__all__ = ["write_card", "training_summary"]


def write_card(path, *, config, weights_path, n_parameters, body, architecture_note=""):
    """Write a markdown model card beside a weights file.

    The card opens with the run's name, the weights file with its size and
    sha256, and the architecture; ``body`` follows.

    Parameters
    ----------
    path : pathlib.Path
        The card.
    config : dict
        The training config (after `crclean.training._common.read_config`).
    weights_path : pathlib.Path
        The exported state dict.
    n_parameters : int
    body : list of str
        The card's lines after the architecture line.
    architecture_note : str, optional
        Appended to the architecture line (what goes in and comes out).
    """
    lines = [
        f"# {config['name']}",
        "",
        f"- file: `{weights_path.name}` ({weights_path.stat().st_size / 1e6:.2f} MB)",
        f"- sha256: `{sha256_of(weights_path)}`",
        f"- architecture: `{config['arch']}` {config['model']} ({n_parameters:,} parameters){architecture_note}",
        *body,
    ]
    path.write_text("\n".join(lines))


def training_summary(scores, train):
    """The start of a card's training line: steps, batch, crops and optimiser.

    Parameters
    ----------
    scores : dict
        Best validation scores (with ``step``).
    train : dict
        The ``[train]`` section of the config.

    Returns
    -------
    str
    """
    return (f"- training: {scores.get('step', '?')} of {train['steps']} steps (best validation), "
            f"batch {train['batch_size']} x {train['crop']}^2 crops, AdamW lr {train['lr']}, ")
