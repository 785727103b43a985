"""From a mask network's probabilities to the mask `crclean mask` writes.

The steps after the network, in one place so that `crclean.Cleaner` and the
benchmarks that score its models make the same mask: the threshold, then
growth into the hits' faint wings when asked (`crclean.engine._hysteresis`),
then the check of flagged stars against the frame's other stars
(`crclean.engine._star_twins`), then the search for long tracks along the
pixel axes that the network left (`crclean.engine._axis_tracks`).
"""

__all__ = ["mask_from_probability"]


def mask_from_probability(probability, image, *, threshold, grow_threshold=None, star_check=False,
                          axis_tracks=False, saturation=None, defects=None, sky=None):
    """The cosmic-ray mask of ``image`` from its network's ``probability``.

    Parameters
    ----------
    probability : numpy.ndarray
        The network's probability per pixel.
    image : numpy.ndarray
        The image the network saw (any linear units; NaN for missing pixels).
    threshold : float
        Probability above which a pixel is flagged.
    grow_threshold : float, optional
        Grow the flagged hits into the pixels above this lower probability
        (`crclean.engine._hysteresis.grow_into`); None grows nothing.
    star_check : bool, optional
        Take back the flags on stars that the frame's unflagged stars explain
        (`crclean.engine._star_twins.star_twin_flags`).
    axis_tracks : bool, optional
        Add the long tracks along rows and columns the network left
        (`crclean.engine._axis_tracks.axis_track_pixels`).
    saturation : float, optional
        Saturation level in the image's units.
    defects : numpy.ndarray of bool, optional
        Known bad pixels: never added by the track search.
    sky : tuple of numpy.ndarray, optional
        ``(background, rms)`` the network was normalised with
        (`crclean.engine.NetworkMasker.sky`); measured again when None.

    Returns
    -------
    numpy.ndarray of bool
    """
    mask = probability > threshold
    if grow_threshold is not None:
        from crclean.engine._hysteresis import grow_into

        mask = grow_into(mask, probability, grow_threshold, image=image, saturation=saturation, sky=sky)
    if not (star_check or axis_tracks):
        return mask
    from crclean.engine._sky_levels import sky_levels

    # Both steps judge the image in sky sigma, away from missing, defective and saturated pixels: made once.
    z, untrusted, top_level = sky_levels(image, saturation=saturation, defects=defects, sky=sky)
    if star_check:
        from crclean.engine._star_twins import explained_star_flags

        mask &= ~explained_star_flags(z, mask, untrusted | top_level)
    if axis_tracks:
        from crclean.engine._axis_tracks import find_axis_tracks

        mask |= find_axis_tracks(z, mask, top_level=top_level) & ~untrusted
    return mask
