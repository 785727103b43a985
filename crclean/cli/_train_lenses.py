"""``crclean train lenses`` and ``crclean train vetter``: train the lens finder's networks on simulations."""

from contextlib import contextmanager

import click

from crclean.cli._options import CommandError
from crclean.cli._train import _check_run, _run_options
from crclean.exceptions import ModelError

__all__ = ["train_lenses_command", "train_vetter_command"]


@contextmanager
def _train_extra():
    """A missing [train] dependency (lenstronomy, tomli) becomes one clear error."""
    try:
        yield
    except ImportError as error:
        raise CommandError(
            f"training needs the [train] extra ({error}); run `pip install 'crclean[train]'`") from None


@click.command("lenses")
@_run_options("lenses-v2.toml")
@click.option("--device", default=None, metavar="auto|cpu|cuda[:N]",
              help="Where to train; overrides the config's `device` (default there: cpu).")
def train_lenses_command(config_path, out_dir, resume, quiet, device):
    """Train the RT-DETR lens finder and write weights plus a model card.

    Renders seeded stamp banks once (kept in OUT, so a resumed run reuses
    them), composes survey-like training windows per step, validates the
    moving-average weights every few thousand steps and checkpoints often,
    and writes OUT/<name>.pt with OUT/<name>.md. Needs the [train] extra
    (lenstronomy).
    """
    with _train_extra():
        from crclean.training._common import config_for_task
        from crclean.training.lenses import load_lens_config, train_lenses
    if device is not None:
        from crclean.engine._masker import resolve_device

        try:
            resolve_device(device)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--device") from None

    def load(path):
        if device is None:
            return load_lens_config(path)
        # The override goes in before the checks: a config that names a GPU still runs with --device cpu.
        return load_lens_config({**config_for_task(path, "lenses", default_task="lenses"), "device": device})

    _check_run(load, config_path, out_dir, resume)
    config = load(config_path)
    try:
        with _train_extra():
            result = train_lenses(config, out_dir=out_dir, resume=resume, progress=not quiet,
                                  log=None if quiet else (lambda message: click.echo(message, err=True)))
    except (FileNotFoundError, ModelError, ValueError) as error:  # init_weights missing, damaged or mismatched
        raise CommandError(str(error)) from None
    click.echo(f"wrote {result['weights']} (sha256 {result['sha256']}) and {result['card']}; "
               f"validation AP50 {result['val_ap50']:.3f} after {result['steps']} steps")


@click.command("vetter")
@_run_options("lens-vetter-v2.toml", checkpoint="vetter_checkpoint.pt")
def train_vetter_command(config_path, out_dir, resume, quiet):
    """Train a lens vetter (a second stage for `crclean lenses`) and fit its stacking.

    Renders seeded stamp banks and centred candidate stamps once (kept in
    OUT), trains a small CNN to tell lenses from what the detector mistakes
    for them, keeps the weights with the best validation ROC AUC, then runs
    the detector named in the config over seeded held-out tiles and fits how
    its score and the vetter's combine. Writes OUT/<name>.pt and
    OUT/<name>.md; a lens model uses it once its manifest entry names it.
    Needs the [train] extra (lenstronomy).
    """
    with _train_extra():
        from crclean.training.lenses import load_vetter_config, train_vetter
    _check_run(load_vetter_config, config_path, out_dir, resume, checkpoint_name="vetter_checkpoint.pt")
    try:
        with _train_extra():
            result = train_vetter(config_path, out_dir=out_dir, resume=resume, progress=not quiet,
                                  log=None if quiet else (lambda message: click.echo(message, err=True)))
    except ModelError as error:  # the shipped detector is missing or damaged
        raise CommandError(str(error)) from None
    stacking = ("not fitted" if result["stacking"] is None
                else "a {:.3f} b {:.3f} c {:.3f}".format(*result["stacking"]))
    click.echo(f"wrote {result['weights']} (sha256 {result['sha256']}) and {result['card']}; validation ROC AUC "
               f"{result['val_auc']:.4f} after {result['steps']} steps; stacking {stacking}")
