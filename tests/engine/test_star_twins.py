"""The star-twin check: flags on stars that the frame's unflagged stars explain are taken back, and no hit is."""

import numpy as np
import pytest

from crclean.engine import _star_twins
from crclean.engine._star_twins import star_twin_flags

SKY = 200.0
SIZE = 400


def _star_field(seed, *, fwhm=3.6, axis_ratio=0.55, angle=0.6, n_stars=120):
    """A frame of stars sharing one elliptical Gaussian PSF at random sub-pixel positions, in electrons."""
    rng = np.random.default_rng(seed)
    sigma_major = fwhm / 2.3548 / np.sqrt(axis_ratio)
    sigma_minor = sigma_major * axis_ratio
    cos, sin = np.cos(angle), np.sin(angle)
    light = np.zeros((SIZE, SIZE))
    centres = []
    cells = rng.permutation(np.array([(y, x) for y in range(20, SIZE - 20, 30) for x in range(20, SIZE - 20, 30)]))
    for cy, cx in cells[:n_stars]:
        y, x = cy + rng.uniform(-0.5, 0.5), cx + rng.uniform(-0.5, 0.5)
        flux = 10 ** rng.uniform(4.3, 5.3)
        rows, cols = np.mgrid[int(y) - 8:int(y) + 9, int(x) - 8:int(x) + 9]
        u = (cols - x) * cos + (rows - y) * sin
        v = -(cols - x) * sin + (rows - y) * cos
        profile = np.exp(-0.5 * ((u / sigma_major) ** 2 + (v / sigma_minor) ** 2))
        light[rows, cols] += flux * profile / profile.sum()
        centres.append((int(round(y)), int(round(x))))
    image = SKY + light + rng.normal(0.0, np.sqrt(SKY + light))
    return image.astype(np.float32), light, centres


def _core(centres, light, k, level=0.5):
    """Pixels of star ``k`` above ``level`` of its peak."""
    y, x = centres[k]
    core = np.zeros(light.shape, bool)
    box = (slice(max(y - 3, 0), y + 4), slice(max(x - 3, 0), x + 4))
    core[box] = light[box] >= level * light[box].max()
    return core


def test_flags_on_the_cores_of_stars_like_the_frames_others_are_taken_back():
    image, light, centres = _star_field(1)
    mask = np.zeros(image.shape, bool)
    for k in range(10):  # a network that took ten of the elongated stars for hits
        mask |= _core(centres, light, k)
    taken = star_twin_flags(image, mask)
    assert not (taken & ~mask).any()
    assert taken.sum() >= 0.8 * mask.sum()


def test_a_hit_on_a_star_stays_flagged():
    image, light, centres = _star_field(2)
    mask = np.zeros(image.shape, bool)
    for k in range(6):
        y, x = centres[k]
        image[y, x + 1] += 0.6 * light[y, x]  # a one-pixel hit beside the peak, at 60% of it
        hit = np.zeros(image.shape, bool)
        hit[y, x + 1] = True
        mask |= hit
    assert not star_twin_flags(image, mask).any()


def test_compact_hits_on_the_sky_are_not_stars():
    image, _, _ = _star_field(3)
    rng = np.random.default_rng(30)
    mask = np.zeros(image.shape, bool)
    for _ in range(40):
        y, x = rng.integers(15, SIZE - 15, 2)
        image[y:y + 2, x:x + 2] += rng.uniform(2e3, 2e4)
        mask[y:y + 2, x:x + 2] = True
    assert not star_twin_flags(image, mask).any()


@pytest.mark.parametrize("fwhm", [1.2, 1.6, 2.2])
def test_nothing_is_taken_back_where_stars_are_as_compact_as_hits(fwhm):
    # (the frame's width counts its sharpest stars too: at 1.2 px most are sharper than a library star may be)
    image, light, centres = _star_field(4, fwhm=fwhm, axis_ratio=1.0)
    mask = np.zeros(image.shape, bool)
    for k in range(10):
        mask |= _core(centres, light, k)
    assert _star_twins.LEAST_FWHM > 2.0
    assert not star_twin_flags(image, mask).any()


def _cut_at_the_corner(seed, offset):
    """A star field cut so that its first row and column of stars lie ``offset`` px from the frame's top and
    left edges (their stamps run out of the frame); the stars' light and centres in the cut frame."""
    image, light, centres = _star_field(seed)
    cut = 20 - offset
    near = [k for k, (y, x) in enumerate(centres) if y - cut <= offset + 1 or x - cut <= offset + 1]
    return image[cut:, cut:], light[cut:, cut:], [(y - cut, x - cut) for y, x in centres], near


def test_flags_on_stars_cut_by_the_frames_edge_are_taken_back():
    image, light, centres, near = _cut_at_the_corner(11, offset=4)
    assert len(near) >= 10
    mask = np.zeros(image.shape, bool)
    for k in near:  # the whole cores of the stars 3-5 px from an edge, as a network flags such stars
        mask |= _core(centres, light, k)
    taken = star_twin_flags(image, mask)
    assert not (taken & ~mask).any()
    assert taken.sum() >= 0.8 * mask.sum()


def test_a_hit_on_a_star_near_the_frames_edge_stays_flagged():
    image, light, centres, near = _cut_at_the_corner(12, offset=4)
    mask = np.zeros(image.shape, bool)
    for k in near:
        y, x = centres[k]
        image[y, x + 1] += 0.6 * light[y, x]  # a one-pixel hit beside the peak, at 60% of it
        mask[y, x + 1] = True
    assert not star_twin_flags(image, mask).any()


def test_a_peak_on_the_frames_edge_is_not_judged():
    # (it may be the flank of a star whose peak lies outside; here the stars are centred on the edge's pixels)
    image, light, centres, near = _cut_at_the_corner(13, offset=0)
    assert _star_twins.EDGE_GAP >= 2
    mask = np.zeros(image.shape, bool)
    for k in near:
        mask |= _core(centres, light, k)
    assert not star_twin_flags(image, mask).any()
    # the same stars 4 px from the edge are judged, and their flags taken back
    image, light, centres, near = _cut_at_the_corner(13, offset=4)
    mask = np.zeros(image.shape, bool)
    for k in near:
        mask |= _core(centres, light, k)
    assert star_twin_flags(image, mask).any()


def test_a_flag_that_runs_out_of_the_stars_stamp_is_left():
    image, light, centres = _star_field(5)
    y, x = centres[0]
    mask = _core(centres, light, 0)
    mask[y, x - 20:x + 20] = True  # a track through the star, beyond its stamp
    assert not star_twin_flags(image, mask).any()


def test_nothing_is_taken_back_without_enough_unflagged_stars():
    image, light, centres = _star_field(6, n_stars=_star_twins.TWINS + 3)
    mask = np.zeros(image.shape, bool)
    for k in range(len(centres) - 2):
        mask |= _core(centres, light, k)
    assert not star_twin_flags(image, mask).any()


@pytest.mark.parametrize("spoil", ["defect", "saturated", "nan"])
def test_a_star_with_an_untrusted_pixel_is_not_judged(spoil):
    image, light, centres = _star_field(7)
    mask = _core(centres, light, 0)
    y, x = centres[0]
    defects = np.zeros(image.shape, bool)
    saturation = None
    if spoil == "defect":
        defects[y + 2, x + 2] = True
    elif spoil == "saturated":
        saturation = float(image[y, x]) - 1.0
    else:
        image[y + 2, x + 2] = np.nan
    assert star_twin_flags(image, mask, defects=defects, saturation=saturation)[y - 4:y + 5, x - 4:x + 5].sum() == 0
    # the same star is judged, and its flags taken back, when nothing spoils it
    clean, _, _ = _star_field(7)
    assert star_twin_flags(clean, mask).any()


def test_an_empty_frame_takes_nothing_back():
    image = np.full((64, 64), SKY, np.float32) + np.random.default_rng(8).normal(0, 14, (64, 64)).astype(np.float32)
    assert not star_twin_flags(image, image > SKY + 40).any()


def test_the_mask_steps_take_the_flags_back_only_with_the_star_check():
    from crclean.engine._mask_steps import mask_from_probability

    image, light, centres = _star_field(9)
    probability = np.zeros(image.shape, np.float32)
    for k in range(8):
        probability[_core(centres, light, k)] = 0.9
    with_check = mask_from_probability(probability, image, threshold=0.5, star_check=True)
    without = mask_from_probability(probability, image, threshold=0.5)
    assert without.sum() == (probability > 0.5).sum()
    assert with_check.sum() < 0.2 * without.sum()


def test_cleaner_takes_the_star_check_as_a_bool():
    from crclean import Cleaner

    assert Cleaner("crclean-ccd").star_check is True
    assert Cleaner("crclean-ccd", star_check=False).star_check is False
    with pytest.raises(ValueError, match="star_check must be True or False"):
        Cleaner("crclean-ccd", star_check="no")


def test_unflagged_hot_pixels_and_columns_do_not_stand_in_for_the_frames_stars():
    # A raw frame without a DQ: hot pixels and hot column segments, none flagged, brighter than most stars.
    from crclean.engine._sky_levels import sky_levels

    image, light, centres = _star_field(10, n_stars=40)
    rng = np.random.default_rng(100)
    defects = np.zeros(image.shape, bool)
    for y, x in rng.integers(10, SIZE - 10, (80, 2)):
        image[y, x] += rng.uniform(2e3, 5e4)
        defects[y, x] = True
    for x in rng.choice(np.arange(10, SIZE - 10), 12, replace=False):
        image[50:350, x] += 1.5e3
        defects[50:350, x] = True
    mask = np.zeros(image.shape, bool)
    for k in range(10):
        mask |= _core(centres, light, k)
    z, untrusted, top_level = sky_levels(image)
    z, mask, unusable, outside, inside = _star_twins._padded(z, mask, untrusted | top_level)
    candidates = _star_twins._bright_peaks(z, inside[0].start + _star_twins.EDGE_GAP)
    peaks, _, _, library, _ = _star_twins._peaks_and_library(z, mask, unusable, outside, candidates,
                                                             _star_twins.RADIUS)
    off_stars = np.zeros(z.shape, bool)
    off_stars[inside] = defects & (light < 100.0)
    assert off_stars[peaks].sum() > 100  # they are peaks of the frame
    assert len(library) >= 25 and not off_stars[peaks[0][library], peaks[1][library]].any()


@pytest.mark.parametrize("count", [1, 3, 7, 9])
def test_the_element_wise_median_is_numpys(count):
    planes = np.random.default_rng(count).normal(size=(count, 40, 30))
    assert np.array_equal(_star_twins._median(list(planes)), np.median(planes, axis=0))
