"""Stop a batch cleanly on SIGINT, SIGTERM or SIGHUP.

Slurm, Kubernetes and Dask send SIGTERM at a time limit or on preemption,
a closed terminal sends SIGHUP, Ctrl-C sends SIGINT. Each becomes a
`Stopped` exception in the main thread, so that every ``with`` block and
``finally`` on the way out runs: `crclean.io.ProductWriter` removes its
temporary files, finished outputs were already renamed into place whole,
and the command can say what was done and exit with 128 + the signal's
number, as a shell reports a process killed by it.
"""

import signal
import threading
from contextlib import contextmanager

__all__ = ["Stopped", "stop_on_signals"]

_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Stopped(BaseException):
    """A signal asked the command to stop.

    A `BaseException`, like `KeyboardInterrupt`, so that the per-file
    ``except Exception`` handlers do not take it for a failed file.

    Attributes
    ----------
    signum : int
    name : str
        ``'SIGTERM'``...
    exit_status : int
        128 + ``signum``: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP.
    """

    def __init__(self, signum):
        self.signum = int(signum)
        self.name = signal.Signals(signum).name
        self.exit_status = 128 + self.signum
        super().__init__(f"stopped by {self.name}")


class _Guard:
    """What `stop_on_signals` yields: `hold` turns raising off, `held` is a signal that came since."""

    def __init__(self):
        self.holding = False
        self.held = None

    def hold(self):
        """From now on a signal is noted in `held` (the first one), not raised: for work that must finish whole."""
        self.holding = True


@contextmanager
def stop_on_signals():
    """Within the block, SIGINT, SIGTERM and SIGHUP raise `Stopped` (once).

    After the first signal the others are ignored until the block ends, so
    that a second Ctrl-C or a repeated SIGTERM cannot cut the clean-up short.
    A signal that was ignored already stays ignored (``nohup`` ignores
    SIGHUP, a shell's background job SIGINT). The previous handlers are
    restored on leaving. Outside the main thread (where Python cannot set
    handlers) it does nothing.

    Yields
    ------
    object
        With ``hold()``: after it, a signal is kept in ``held`` as a
        `Stopped` rather than raised (e.g. while the report is written).
    """
    guard = _Guard()
    if threading.current_thread() is not threading.main_thread():
        yield guard
        return
    caught = [number for number in _SIGNALS if signal.getsignal(number) is not signal.SIG_IGN]

    def stop(signum, frame):
        for number in caught:
            signal.signal(number, signal.SIG_IGN)
        if guard.holding:
            guard.held = Stopped(signum)
            return
        raise Stopped(signum)

    previous = {number: signal.signal(number, stop) for number in caught}
    try:
        yield guard
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
