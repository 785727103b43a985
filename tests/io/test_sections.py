"""The data section of raw frames from TRIMSEC/DATASEC/BIASSEC (crclean.io.data_section)."""

import pytest
from astropy.io import fits

from crclean.exceptions import CrcleanWarning, InputError
from crclean.io import data_section, fits_section


def section(shape=(520, 536), **cards):
    return data_section(fits.Header(cards), shape, where="test.fits[HDU 0]")


def test_saao_style_trimsec_with_padding():
    # As in the SAAO frame that ships with ccdproc: blanks inside the brackets.
    rows, columns = section(TRIMSEC="[  17: 528,   1: 520]", BIASSEC="[   4:  13,   1: 520]")
    assert (rows, columns) == (slice(0, 520), slice(16, 528))
    assert fits_section((rows, columns)) == "[17:528,1:520]"


def test_trimsec_and_datasec_intersect():
    assert section(DATASEC="[1:512,1:520]", TRIMSEC="[5:536,3:518]") == (slice(2, 518), slice(4, 512))


def test_reversed_section_of_an_amplifier_read_from_the_far_side():
    assert section((64, 80), DATASEC="[64:1,1:64]") == (slice(0, 64), slice(0, 64))


def test_datasec_overlapping_biassec_is_cut_back():
    # DATASEC claims the whole width; BIASSEC says the last 16 columns are overscan.
    assert section((64, 80), DATASEC="[1:80,1:64]", BIASSEC="[65:80,1:64]") == (slice(0, 64), slice(0, 64))


def test_biassec_alone_keeps_the_largest_rectangle_beside_it():
    assert section((64, 80), BIASSEC="[1:16,1:64]") == (slice(0, 64), slice(16, 80))
    assert section((80, 64), BIASSEC="[1:64,71:80]") == (slice(0, 70), slice(0, 64))


@pytest.mark.parametrize("cards", [{}, {"DATASEC": "[1:536,1:520]"}, {"TRIMSEC": "[*,*]"}])
def test_no_section_or_the_whole_image_gives_none(cards):
    assert section(**cards) is None  # and no warning (filterwarnings = error)


@pytest.mark.parametrize(("value", "reason"), [
    ("junk", "it cannot be read as a section"),
    ("[1:600,1:520]", "it runs past the 536x520 pixel image"),
    ("[1:536:2,1:520]", "it steps by more than one pixel"),
    ("[1:536]", "it has 1 axes, the image 2"),
])
def test_unusable_section_is_ignored_with_a_warning(value, reason):
    with pytest.warns(CrcleanWarning, match=f"TRIMSEC '.*' of test.fits\\[HDU 0\\] is ignored: {reason}"):
        assert section(TRIMSEC=value) is None


def test_disjoint_sections_search_the_whole_image_with_a_warning():
    with pytest.warns(CrcleanWarning, match="do not overlap; searching the whole image"):
        assert section(TRIMSEC="[1:100,1:520]", DATASEC="[200:536,1:520]") is None


def test_data_section_inside_biassec_searches_the_whole_image_with_a_warning():
    with pytest.warns(CrcleanWarning, match="lies within its BIASSEC"):
        assert section(DATASEC="[1:10,1:520]", BIASSEC="[1:20,1:520]") is None


def test_too_small_a_section_says_to_use_no_trim():
    with pytest.raises(InputError, match=r"data section \[1:10,1:520\] of test.fits\[HDU 0\] .* is 10x520 "
                                         r"pixels; crclean needs at least 16x16: pass --no-trim"):
        section(DATASEC="[1:10,1:520]")

