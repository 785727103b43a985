"""Markers for tests that need an optional dependency (a pip extra)."""

import importlib.util

import pytest

#: deepCR's pretrained weights (``crclean[deepcr]``; the [test] extra installs them).
requires_deepcr = pytest.mark.skipif(importlib.util.find_spec("learned_models") is None,
                                     reason='needs the [deepcr] extra: pip install "crclean[deepcr]"')
