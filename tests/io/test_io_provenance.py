"""Provenance keywords (crclean.io.provenance_keywords)."""

import hashlib

import pytest
from astropy.io import fits

from crclean.io import PROVENANCE_KEYWORDS, provenance_keywords

SHA = hashlib.sha256(b"weights").hexdigest()


def keywords(**changes):
    options = dict(version="0.1.0", model="unet-hst", weights_sha256=SHA, threshold=0.5,
                   n_flagged=42, inpaint="median", tile_size=256, overlap=32, dq_bit=8192)
    options.update(changes)
    return provenance_keywords(**options)


def test_keys_values_and_comments():
    cards = keywords()
    assert list(cards) == ["CRVERS", "CRMODEL", "CRWSHA", "CRTHRESH", "NCRPIX", "CRINPNT",
                           "CRTILE", "CROVLAP", "CRDQBIT"]
    assert cards["CRWSHA"][0] == SHA[:12]
    assert cards["NCRPIX"][0] == 42 and cards["CRTHRESH"][0] == 0.5
    assert set(cards) | {"CRIMAGE", "CRSECT", "CRGROW", "CRSTARS", "CRAXTRK"} == set(PROVENANCE_KEYWORDS)
    assert all(meaning.endswith(".") for meaning in PROVENANCE_KEYWORDS.values())
    header = fits.Header()
    for key, card in cards.items():  # fits on standard cards, no warning
        header[key] = card
    assert header.comments["CRDQBIT"] == "DQ bit set for cosmic rays"


def test_none_values():
    cards = keywords(weights_sha256=None, inpaint=None)
    assert cards["CRWSHA"][0] == "none"
    assert cards["CRINPNT"][0] == "none"


def test_section_and_no_dq_bit():
    cards = keywords(dq_bit=None, section="[17:528,1:520]")
    assert "CRDQBIT" not in cards
    assert cards["CRSECT"] == ("[17:528,1:520]", "data section searched for cosmic rays")


@pytest.mark.parametrize(
    ("change", "message"),
    [({"weights_sha256": "xyz"}, "weights_sha256 must be a hex"),
     ({"threshold": 1.5}, r"threshold must be a number in \[0, 1\], got 1.5"),
     ({"n_flagged": -1}, "n_flagged must be an integer >= 0, got -1"),
     ({"tile_size": 0}, "tile_size must be an integer >= 1"),
     ({"model": 3}, "model must be printable text")],
)
def test_invalid_values(change, message):
    with pytest.raises(ValueError, match=message):
        keywords(**change)


def test_a_grown_mask_is_recorded_and_a_grow_threshold_must_lie_below_the_threshold():
    cards = keywords(grow_threshold=0.1)
    assert cards["CRGROW"] == (0.1, "flagged hits grown to this probability")
    assert list(cards).index("CRGROW") == list(cards).index("CRTHRESH") + 1
    for bad in (0.5, 0.7, 0.0, True):
        with pytest.raises(ValueError, match="grow_threshold"):
            keywords(grow_threshold=bad)


def test_the_axis_track_search_is_recorded_either_way():
    assert keywords(axis_tracks=True)["CRAXTRK"] == (True, "long tracks along rows/columns searched")
    assert keywords(axis_tracks=False)["CRAXTRK"][0] is False
    assert "CRAXTRK" not in keywords()
    header = fits.Header()
    for key, card in keywords(axis_tracks=True).items():
        header[key] = card
    assert header["CRAXTRK"] is True
    with pytest.raises(ValueError, match="axis_tracks must be True or False, got 'yes'"):
        keywords(axis_tracks="yes")


def test_the_star_check_is_recorded_either_way():
    assert keywords(star_check=True)["CRSTARS"] == (True, "flags on stars like the frame's taken back")
    assert keywords(star_check=False)["CRSTARS"][0] is False
    assert "CRSTARS" not in keywords()
    with pytest.raises(ValueError, match="star_check must be True or False, got 1"):
        keywords(star_check=1)
