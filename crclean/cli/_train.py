"""``crclean train``: train crclean's own models (needs the ``[train]`` extra)."""

from pathlib import Path

import click

__all__ = ["train_group"]

_CONFIGS = Path(__file__).resolve().parent.parent / "training" / "configs"


@click.group("train")
def train_group():
    """Train crclean's own models on simulated data."""


def _run_options(example_config, checkpoint="checkpoint.pt"):
    """The options every ``crclean train`` command takes (config, out, resume, quiet)."""
    def decorate(command):
        for option in reversed([
            click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
                         help=f"TOML training config, e.g. {_CONFIGS / example_config}."),
            click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
                         help="Folder for pools, checkpoints, log, weights and model card."),
            click.option("--resume", is_flag=True, help=f"Continue from OUT/{checkpoint}."),
            click.option("-q", "--quiet", is_flag=True, help="No progress bars."),
        ]):
            command = option(command)
        return command
    return decorate


def _device_option(where):
    """``--device``, which overrides the config's ``where`` (its default there: the CPU)."""
    return click.option("--device", default=None, metavar="auto|cpu|cuda[:N]",
                        help=f"Where to train; overrides the config's {where} (default there: cpu).")


def _check_device(device):
    """Refuse a ``--device`` that PyTorch cannot use here, before any work."""
    if device is None:
        return
    from crclean.engine._masker import resolve_device

    try:
        resolve_device(device)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--device") from None


def _check_run(load, config_path, out_dir, resume, *, checkpoint_name="checkpoint.pt"):
    """Refuse a bad config, or an existing run without --resume, before any work."""
    try:
        load(config_path)
    except (OSError, ValueError) as error:
        raise click.UsageError(f"--config {config_path}: {error}") from None
    checkpoint = Path(out_dir) / checkpoint_name
    if checkpoint.exists() and not resume:
        raise click.UsageError(f"{checkpoint} exists; pass --resume to continue it or choose another --out")


@train_group.command("mask")
@_run_options("ground-unet.toml")
@_device_option("[train] device")
def train_mask_command(config_path, out_dir, resume, quiet, device):
    """Train a cosmic-ray mask network and write weights plus a model card.

    Simulates training and held-out validation exposures on the CPU (kept in
    OUT, so a resumed run reuses them), trains with (1 - dice + BCE) / 2,
    validates and checkpoints every few hundred steps, and exports the best
    validation state as OUT/<name>.pt with OUT/<name>.md.
    """
    from crclean.engine._masker import resolve_device
    from crclean.training._common import config_for_task
    from crclean.training.mask import load_config, train_mask

    _check_device(device)

    def load(path):
        if device is None:
            config = load_config(path)
        else:
            raw = config_for_task(path, "mask", default_task="mask")
            config = load_config({**raw, "train": {**raw.get("train", {}), "device": device}})
        resolve_device(config["train"]["device"])  # a GPU the config names must be here, before any work
        return config

    _check_run(load, config_path, out_dir, resume)
    best = train_mask(load(config_path), out_dir=out_dir, resume=resume, progress=not quiet)
    click.echo(f"best validation (step {best['step']}): TPR at FPR 1e-4 {best['tpr_at_fpr_1e-4']:.4f}, "
               f"precision at 95% recall {best['precision_at_recall_0.95']:.4f}, dice {best['dice']:.4f}")


@train_group.command("inpaint")
@_run_options("inpaint.toml")
def train_inpaint_command(config_path, out_dir, resume, quiet):
    """Train the learned inpainter and write weights plus a model card.

    Simulates training and held-out validation exposures (kept in OUT, so a
    resumed run reuses them), trains a network to correct the `grow` fill of
    the true cosmic-ray pixels with a Huber loss in units of each pixel's
    noise, validates and checkpoints every few hundred steps, and exports the
    best validation state (lowest RMS relative to `grow`) as OUT/<name>.pt
    with OUT/<name>.md.
    """
    from crclean.training.inpaint import load_inpaint_config, train_inpaint

    _check_run(load_inpaint_config, config_path, out_dir, resume)
    best = train_inpaint(config_path, out_dir=out_dir, resume=resume, progress=not quiet)
    ratios = ", ".join(f"{name} {best[f'rms_{name}']:.3f} (grow {best[f'grow_rms_{name}']:.3f})"
                       for name in load_inpaint_config(config_path)["data"]["profiles"])
    click.echo(f"best validation (step {best['step']}): RMS / noise on cosmic-ray pixels {ratios}")
