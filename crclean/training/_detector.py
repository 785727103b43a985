"""The settings of one simulated detector: sensor, electronics, site and scene."""

from dataclasses import dataclass

from crclean.training._cosmic_sim import SensorGeometry

__all__ = ["DetectorProfile"]


@dataclass(frozen=True)
class DetectorProfile:
    """Detector, site and scene settings of one kind of exposure.

    Ranges are ``(low, high)`` drawn uniformly per exposure. Rates and densities
    are means of Poisson draws. Use `dataclasses.replace` on an entry of
    `PROFILES` to make a new detector (the example script makes a DECam one).
    """

    name: str
    sensor: SensorGeometry
    gain: float                   # e-/ADU
    readnoise: float              # e-
    full_well: float              # e-
    exptime: float                # s
    sky_range: tuple              # e- per pixel over the exposure
    fwhm_range: tuple             # px
    psf: str = "moffat"           # "moffat" (ground) or "space" (core + wings)
    moffat_beta: float = 3.0
    psf_axis_ratio: float = 1.0   # minor over major axis of the PSF (1: round)
    psf_angle: float = 0.0        # major axis of the PSF, radians from the x axis
    psf_lumps: tuple = ()         # (dx, dy in FWHM, flux share, size) of each copy of a lumpy PSF (_scene.lumpy)
    stars_per_mpix: float = 300.0
    galaxies_per_mpix: float = 150.0
    bright_stars_per_mpix: float = 1.0   # stars bright enough to saturate and bleed
    cr_rate: float = 0.07         # events / cm^2 / s (see _cosmic_sim.simulate_cosmic_rays)
    cr_mix: tuple = (0.6, 0.15, 0.25)    # tracks, worms, spots of the physical model
    cos_power: float = 3.0        # 3: ground muons (cos^2 zenith), 1: isotropic (space)
    heavy_fraction: float = 0.0
    footprint_fraction: float = 0.0  # share of events drawn from the real footprints
    footprint_zoom: float = 1.0      # 10 um footprint pixels -> this detector's pixels
    hot_fraction: float = 2e-4
    bad_columns_per_kcol: float = 1.0
    adc_max: float = 65535.0      # ADU, before bias subtraction
    cr_on_sources: float = 0.0    # share of tracks and spots started on a star or galaxy
    aligned_tracks: float = 0.0   # share of tracks along a pixel row or column
    grazing_tracks: float = 0.0   # share of tracks 20-300 px long within 8 degrees of a row or column
    axis_edges_per_mpix: float = 0.0  # amplifier steps and sharp-edged rectangles (negatives)
    alpha_spots: float = 0.0      # share of spots that are alpha particles (saturate, bleed)
    trails_per_mpix: float = 0.0  # satellite trails and other long smooth lines (negatives)
    sky_lines_per_mpix: float = 0.0  # row- or column-aligned bands across the frame (negatives)
    bright_anchors: bool = False  # hits on sources favour bright ones and land over their whole core
    heavy_ions: float = 0.0       # share of tracks and spots from nuclei He-Fe (charge x Z^2)
    sharp_hits: float = 0.0       # share of tracks and spots that hardly diffuse (no wings)
    whole_bad_columns: bool = False  # bad columns run the full height (no ends inside the frame)
    core_hits: float = 0.0        # share of stars above 5 sky sigma hit on the core, about as bright as their peak
    core_bleeds: float = 0.0      # share of those core hits that saturate and bleed (alpha particles)
    defect_hits: float = 0.0      # share of tracks and spots started on a bad column or a saturated star
    footprints_on_sources: float = 0.0  # share of real footprints centred on a star or galaxy, bright ones favoured
