"""``crclean train lenses``: train the RT-DETR lens finder on simulations."""

import click

__all__ = ["train_lenses_command"]


@click.command("lenses")
@click.argument("config", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint in checkpoint_dir.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no log lines.")
def train_lenses_command(config, resume, quiet):
    """Train a lens finder; write weights/<name>.pt and its model card.

    CONFIG is a JSON file overriding the defaults of
    crclean.training.lenses.DEFAULT_TRAIN_CONFIG (steps, batch_size,
    checkpoint_dir, weights_dir, seed, ...). Needs the [train] extra
    (lenstronomy). Checkpoints are written every checkpoint_every steps.
    """
    try:
        from crclean.training.lenses import train_lenses
    except ImportError as error:
        raise click.ClickException(
            f"training needs the [train] extra ({error}); run `pip install 'crclean[train]'`") from None
    try:
        result = train_lenses(config or {}, resume=resume, progress=not quiet,
                              log=None if quiet else (lambda message: click.echo(message, err=True)))
    except ImportError as error:
        raise click.ClickException(
            f"training needs the [train] extra ({error}); run `pip install 'crclean[train]'`") from None
    except (ValueError, TypeError, FileNotFoundError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {result['weights']} (sha256 {result['sha256']}) and {result['card']}; "
               f"validation AP50 {result['val_ap50']:.3f} after {result['steps']} steps")
