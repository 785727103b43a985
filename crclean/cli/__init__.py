"""The ``crclean`` command line.

Subcommands live one per module. Heavy imports (numpy, astropy, torch) happen
inside the commands, so ``crclean --help`` and ``crclean models`` start fast.
"""

import atexit
import gc
import os
import sys
import threading

import click

from crclean import __version__
from crclean.cli._lenses import lenses_command
from crclean.cli._mask import mask_command
from crclean.cli._models import models_command
from crclean.cli._train import train_group
from crclean.cli._train_lenses import train_lenses_command

__all__ = ["main", "run"]


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


def run():
    """The ``crclean`` program (console script and ``python -m crclean``): `main`, then a quick exit.

    Once a command has finished, the interpreter's teardown does nothing it
    needs: the exit functions still run (`atexit`), standard output and error
    are flushed, and the process ends with the command's exit status. After
    ``import torch`` the teardown took 0.12-0.15 s of a ~1.5 s ``crclean mask``
    call on a busy 2-core machine (PyTorch unregisters its Python-registered
    operators one by one), 20 ms without it. Where something may still need
    the teardown (a non-daemon thread alive, a tracer or profiler such as
    coverage or cProfile, an exit status that is not a number, stdout that
    cannot be flushed) it exits the usual way.
    """
    try:
        main()  # standalone click: always ends in SystemExit
    except SystemExit as done:
        _exit_without_teardown(done.code)
        raise


def _exit_without_teardown(code):
    code = 0 if code is None else code
    if not isinstance(code, int) or sys.gettrace() is not None or sys.getprofile() is not None:
        return
    main_thread = threading.main_thread()
    if any(thread is not main_thread and not thread.daemon for thread in threading.enumerate()):
        return
    atexit._run_exitfuncs()  # runs each once: the usual exit would find none left
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):  # a closed pipe or stream: the usual exit reports it as before
        return
    os._exit(code)
