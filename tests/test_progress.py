"""The one progress bar: on a terminal only, off under --quiet, its line cleared at the end."""

import io

from crclean._progress import ProgressBar


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_draws_on_a_terminal_and_clears_its_line():
    stream = _Terminal()
    with ProgressBar(4, "tiles", stream=stream) as bar:
        bar.update(2)
        bar.update(5)  # never past the total
    assert bar.done == 4
    text = stream.getvalue()
    assert "tiles:" in text and "/4" in text and text.endswith("\r")


def test_silent_when_disabled_or_not_a_terminal():
    for stream, enabled in ((_Terminal(), False), (io.StringIO(), True)):
        with ProgressBar(3, "tiles", enabled=enabled, stream=stream) as bar:
            bar.update(3)
        assert stream.getvalue() == "" and bar.done == 3
