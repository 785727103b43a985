"""``crclean train lenses``: train the RT-DETR lens finder on simulations."""

import click

from crclean.cli._train import _check_run, _run_options
from crclean.exceptions import ModelError

__all__ = ["train_lenses_command"]


@click.command("lenses")
@_run_options("lenses-v2.toml")
def train_lenses_command(config_path, out_dir, resume, quiet):
    """Train the RT-DETR lens finder and write weights plus a model card.

    Renders seeded stamp banks once (kept in OUT, so a resumed run reuses
    them), composes survey-like training windows per step, validates the
    moving-average weights every few thousand steps and checkpoints often,
    and writes OUT/<name>.pt with OUT/<name>.md. Needs the [train] extra
    (lenstronomy).
    """
    try:
        from crclean.training.lenses import load_lens_config, train_lenses
    except ImportError as error:
        raise click.ClickException(
            f"training needs the [train] extra ({error}); run `pip install 'crclean[train]'`") from None
    _check_run(load_lens_config, config_path, out_dir, resume)
    try:
        result = train_lenses(config_path, out_dir=out_dir, resume=resume, progress=not quiet,
                              log=None if quiet else (lambda message: click.echo(message, err=True)))
    except ImportError as error:
        raise click.ClickException(
            f"training needs the [train] extra ({error}); run `pip install 'crclean[train]'`") from None
    except (FileNotFoundError, ModelError) as error:  # init_weights missing, or a shipped one damaged
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {result['weights']} (sha256 {result['sha256']}) and {result['card']}; "
               f"validation AP50 {result['val_ap50']:.3f} after {result['steps']} steps")
