"""How sure a difference between two mask models is: a paired bootstrap over exposures.

Two models judged on the same exposures differ by a few thousandths of recall, and a round's
rule gates on such differences; but one exposure can carry most of a family's misses or star-core
flags (an aberrated PSF, a track along a pixel column), and then the difference says more about that
exposure than about the models. Resampling the exposures with replacement, and scoring both models
on each resample (paired: the same exposures for both), gives an interval for the difference that
such an exposure widens, and a leave-one-out pass names the exposure that moves it most. The
benchmark's table pools the same per-exposure counts, so both read one definition of each score.

References
----------
Efron, B. & Tibshirani, R. J. 1993, An Introduction to the Bootstrap (percentile intervals, paired resampling).
"""

import numpy as np

__all__ = ["COUNTS", "exposure_counts", "paired_differences", "pooled_counts"]

COUNTS = ("high", "high_flagged", "wings", "wings_flagged", "star_core_fp", "hits_left")
"""Per-exposure columns of `exposure_counts`: > 10 sigma truth pixels and how many are flagged, 2-3 sigma wing
pixels and how many are flagged, flags on star cores, hits left in the cleaned image."""


def exposure_counts(exposures, runs, *, high_sigma, hits_left):
    """One row of `COUNTS` per exposure, for one model's ``runs`` (`_mask_contenders.Run`).

    ``hits_left(exposures, cleaned)`` is the benchmark's count, called on one exposure at a time.
    """
    rows = []
    for e, r in zip(exposures, runs):
        positives = e.cr_mask & ~e.ignore_mask
        ratio = e.cr_electrons / e.noise_sigma_electrons
        high, wings = positives & (ratio > high_sigma), positives & (ratio < 3.0)
        cores = e.star_core_mask & ~e.ignore_mask & ~e.cr_mask
        rows.append((high.sum(), (r.flagged & high).sum(), wings.sum(), (r.flagged & wings).sum(),
                     (r.flagged & cores).sum(), hits_left([e], [r.cleaned_adu])))
    return np.array(rows, dtype=np.int64).reshape(len(rows), len(COUNTS))


def pooled_counts(counts):
    """(recall > 10 sigma, wing recall, star-core flags, hits left) pooled over the rows of ``counts``
    (last axis `COUNTS`; any leading axes, e.g. resamples)."""
    total = counts.sum(axis=-2).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.stack([total[..., 1] / total[..., 0], total[..., 3] / total[..., 2], total[..., 4],
                         total[..., 5]], axis=-1)


def paired_differences(base, other, *, resamples=2000, seed=0, level=0.95):
    """``other`` minus ``base`` on the pooled scores, with a paired bootstrap interval over exposures.

    Parameters
    ----------
    base, other : numpy.ndarray
        `exposure_counts` of two models on the same exposures, in the same order.
    resamples : int, optional
    seed : int, optional
        Seeds the resampling, so a table can be printed again.
    level : float, optional
        Coverage of the percentile interval.

    Returns
    -------
    dict
        For each of ``recall_high``, ``recall_wings``, ``star_core_fp``, ``hits_left``: ``(difference, low,
        high, exposure)``, ``exposure`` being the index of the exposure without which the difference shrinks
        most (None when no exposure's removal shrinks it).
    """
    base, other = np.asarray(base), np.asarray(other)
    if base.shape != other.shape or base.ndim != 2 or base.shape[1] != len(COUNTS):
        raise ValueError(f"base and other must be exposure_counts of the same exposures, got shapes "
                         f"{base.shape} and {other.shape}")
    n = base.shape[0]
    observed = pooled_counts(other) - pooled_counts(base)
    picks = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    resampled = pooled_counts(other[picks]) - pooled_counts(base[picks])
    tail = 100 * (1 - level) / 2
    low, high = np.nanpercentile(resampled, [tail, 100 - tail], axis=0)
    # Leave-one-out: the exposure whose removal moves the difference furthest towards zero.
    keep = ~np.eye(n, dtype=bool)
    without = (np.stack([pooled_counts(other[keep[i]]) - pooled_counts(base[keep[i]]) for i in range(n)])
               if n > 1 else None)
    names = ("recall_high", "recall_wings", "star_core_fp", "hits_left")
    result = {}
    for j, name in enumerate(names):
        driver = None
        if without is not None and observed[j] != 0 and np.isfinite(observed[j]):
            shrink = np.abs(observed[j]) - np.abs(without[:, j])
            if np.nanmax(shrink) > 0:
                driver = int(np.nanargmax(shrink))
        result[name] = (float(observed[j]), float(low[j]), float(high[j]), driver)
    return result
