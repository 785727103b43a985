"""``crclean train lenses``: train the lens finder on simulations."""

from contextlib import contextmanager

import click

from crclean.cli._options import CommandError
from crclean.cli._train import _check_device, _check_run, _device_option, _run_options
from crclean.exceptions import ModelError

__all__ = ["train_lenses_command"]


@contextmanager
def _train_extra():
    """A missing [train] dependency (lenstronomy, tomli) becomes one clear error."""
    try:
        yield
    except ImportError as error:
        raise CommandError(
            f"training needs the [train] extra ({error}); run `pip install 'crclean[train]'`") from None


@click.command("lenses")
@_run_options("lenses-v9.toml")
@_device_option("`device`")
@click.option("--banks-only", is_flag=True,
              help="Only render the run's stamp banks into OUT, compressed (to carry to another machine), and stop.")
def train_lenses_command(config_path, out_dir, resume, quiet, device, banks_only):
    """Train the RT-DETR lens finder and write weights plus a model card.

    Renders seeded stamp banks once (kept in OUT, so a resumed run reuses
    them), composes survey-like training windows per step, validates the
    moving-average weights every few thousand steps and checkpoints often,
    and writes OUT/<name>.pt with OUT/<name>.md. Needs the [train] extra
    (lenstronomy).
    """
    with _train_extra():
        from crclean.training._common import config_for_task
        from crclean.training.lenses import load_lens_config, prepare_banks, train_lenses
    _check_device(device)

    def load(path):
        if device is None:
            return load_lens_config(path)
        # The override goes in before the checks: a config that names a GPU still runs with --device cpu.
        return load_lens_config({**config_for_task(path, "lenses", default_task="lenses"), "device": device})

    _check_run(load, config_path, out_dir, resume)
    config = load(config_path)
    if banks_only:
        with _train_extra():
            paths = prepare_banks(config, out_dir=out_dir, log=None if quiet else (lambda m: click.echo(m, err=True)))
        for path in paths:
            click.echo(f"wrote {path} ({path.stat().st_size / 2 ** 20:.1f} MiB)")
        return
    try:
        with _train_extra():
            result = train_lenses(config, out_dir=out_dir, resume=resume, progress=not quiet,
                                  log=None if quiet else (lambda message: click.echo(message, err=True)))
    except (FileNotFoundError, ModelError, ValueError) as error:  # init_weights missing, damaged or mismatched
        raise CommandError(str(error)) from None
    click.echo(f"wrote {result['weights']} (sha256 {result['sha256']}) and {result['card']}; "
               f"validation AP50 {result['val_ap50']:.3f} after {result['steps']} steps")
