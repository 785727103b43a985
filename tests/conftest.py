"""Shared fixtures, and skipping what needs an extra that is not installed."""

import pytest

from crclean.exceptions import MissingExtraError
from synthetic import synthetic_exposure


@pytest.fixture
def exposure():
    return synthetic_exposure()


@pytest.fixture(autouse=True)
def _float32_cpu(monkeypatch):
    """Every test sees a CPU without native bfloat16, so ``precision='auto'`` is float32 on every machine.

    On an AMX or AVX512_BF16 CPU auto would pick bfloat16, and the tests' float32 figures (tile
    independence to 1e-3, unit independence...) would depend on where they run. The choice itself
    and bfloat16's agreement with float32 are tested in tests/engine/test_precision.py. Processes
    a test starts (Dask workers) see the real CPU: such tests name the precision (tests/cli/test_dask.py).
    """
    from crclean import _precision

    monkeypatch.setattr(_precision, "cpu_features", lambda: _precision.CpuFeatures("test CPU", frozenset({"avx2"})))


def _skip_without_extra():
    # A test that asks for a model of an optional package (deepCR's networks) is skipped, with the reason,
    # when that package is not installed: the library raises MissingExtraError then and only then.
    try:
        return (yield)
    except MissingExtraError as error:
        pytest.skip(f"needs the [{error.extra}] extra: {error}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _skip_without_extra())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _skip_without_extra())


@pytest.fixture
def split_auto_models(monkeypatch):
    """``auto`` with a different model per kind, so the choice per file shows.

    The shipped mapping gives both kinds crclean-ccd; these tests check the
    mechanism, which must keep working when a kind gets its own model again.
    """
    from types import MappingProxyType

    from crclean import weights

    split = MappingProxyType({"ground": "crclean-ground", "space": "crclean-space"})
    monkeypatch.setattr(weights, "AUTO_MODELS", split)
    return split
