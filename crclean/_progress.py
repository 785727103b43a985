"""The one progress bar crclean draws (on stderr, only on a terminal)."""

import sys
import time

__all__ = ["ProgressBar"]


class ProgressBar:
    """A minimal text progress bar.

    It draws only when enabled and the stream is a terminal, so pipeline logs
    do not fill with carriage returns; per-file summaries are the CLI's job.

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
    """

    def __init__(self, total, label, *, enabled=True, stream=None):
        self.total = max(int(total), 1)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.enabled = enabled and isatty()
        self.done = 0
        self._start = time.perf_counter()
        self._last_draw = 0.0

    def update(self, steps=1):
        """Advance by ``steps`` and redraw at most ten times a second."""
        self.done = min(self.done + steps, self.total)
        now = time.perf_counter()
        if self.enabled and (now - self._last_draw > 0.1 or self.done == self.total):
            self._last_draw = now
            width = 30
            filled = int(width * self.done / self.total)
            bar = "#" * filled + "-" * (width - filled)
            elapsed = now - self._start
            self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total} {elapsed:5.1f}s")
            self.stream.flush()

    def close(self):
        """Finish the line."""
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
