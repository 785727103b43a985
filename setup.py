"""Only what setup.cfg cannot say: ship the top-level weights/ folder as crclean._weights."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["crclean", "crclean.*"]) + ["crclean._weights"],
    package_dir={"crclean._weights": "weights"},
)
