"""The ``crclean`` command line.

Subcommands live one per module. Heavy imports (numpy, astropy, torch) happen
inside the commands, so ``crclean --help`` and ``crclean models`` start fast.
"""

import atexit
import gc

import click

from crclean import __version__
from crclean.cli._lenses import lenses_command
from crclean.cli._mask import mask_command
from crclean.cli._models import models_command
from crclean.cli._train import train_group
from crclean.cli._train_lenses import train_lenses_command

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="crclean")
def main():
    """Find, flag and remove cosmic rays in CCD exposures with deep models.

    \b
    Examples:
      crclean mask image.fits                 # writes image_crclean.fits
      crclean mask *.fits --outdir clean/ -q  # a batch, quietly
      ls raw/*.fits | crclean mask - --outdir clean/
      crclean models                          # what --model takes
      crclean lenses tile.fits --conf 0.9     # strong-lens candidates (experimental)
    """
    # At exit the interpreter's last garbage collections walk every object PyTorch and astropy
    # made: 0.4-0.7 s after `import torch, astropy.io.fits` on a busy 2-core machine, 0.1-0.2 s
    # with them frozen (measured by hand; benchmarks/startup.py times whole calls). The OS frees
    # the memory, and crclean closes its files itself before this.
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)


main.add_command(mask_command)
main.add_command(models_command)
main.add_command(lenses_command)
main.add_command(train_group)
train_group.add_command(train_lenses_command)
