"""Fixtures for the lens-finder tests."""

import pytest

from lens_fixtures import BlobDetector


@pytest.fixture
def blob_detector():
    return BlobDetector()
