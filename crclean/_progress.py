"""The one progress bar crclean draws (tqdm, on stderr, only on a terminal)."""

import sys

__all__ = ["ProgressBar"]


class ProgressBar:
    """A tqdm progress bar that draws only when asked to and on a terminal.

    Pipeline logs do not fill with carriage returns, ``--quiet`` switches it
    off, and the line is cleared when the bar closes: per-file summaries are
    the CLI's job.

    Parameters
    ----------
    total : int
        Number of steps.
    label : str
        Shown before the bar.
    enabled : bool, optional
        Draw at all (``False`` under ``--quiet``).
    stream : file-like, optional
        Defaults to ``sys.stderr``.

    Attributes
    ----------
    done : int
        Steps counted so far (at most ``total``).
    """

    def __init__(self, total, label, *, enabled=True, stream=None):
        from tqdm import tqdm

        self.total = max(int(total), 1)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.enabled = bool(enabled and isatty())
        self.done = 0
        self._bar = tqdm(total=self.total, desc=label, file=self.stream, disable=not self.enabled, leave=False,
                         mininterval=0.1, dynamic_ncols=True)

    def update(self, steps=1):
        """Advance by ``steps`` (never past ``total``); tqdm redraws at most ten times a second."""
        steps = min(int(steps), self.total - self.done)
        self.done += steps
        self._bar.update(steps)

    def close(self):
        """Clear the bar's line."""
        self._bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
