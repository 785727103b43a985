"""Shared fixtures."""

import pytest

from synthetic import synthetic_exposure


@pytest.fixture
def exposure():
    return synthetic_exposure()
