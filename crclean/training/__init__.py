"""Training tools for crclean's mask models: simulators, datasets, losses, loops.

Needs the ``[train]`` extra. Nothing at run time imports this package.
"""

from crclean.training.simulate import (
    MASK_THRESHOLD_SIGMA,
    PROFILES,
    DetectorProfile,
    SimulatedExposure,
    simulate_exposure,
)

__all__ = [
    "MASK_THRESHOLD_SIGMA",
    "PROFILES",
    "DetectorProfile",
    "SimulatedExposure",
    "simulate_exposure",
]
