"""How many real cosmic-ray footprints lie along a pixel axis (issue 28, docs/benchmarks.md).

benchmarks/axis_tracks.py puts every track within a few degrees of a row or column. This counts how often
that happens in real data: the footprints from LSST ITL darks that `real_footprints` injects, by length
(the longer side of the footprint's box) and by the angle of its major axis (charge-weighted second
moments) to the nearest pixel axis.

    python experiments/masks/footprint_angles.py
"""

import numpy as np

from crclean.training._footprints import load_footprints


def length_and_axis_angle(stamp):
    """(length in px, degrees from the nearest pixel axis) of one footprint stamp."""
    charge = np.clip(np.asarray(stamp, np.float64), 0.0, None)
    ys, xs = np.nonzero(charge > 0)
    w = charge[ys, xs]
    cy, cx = np.average(ys, weights=w), np.average(xs, weights=w)
    qxx, qyy = np.average((xs - cx) ** 2, weights=w), np.average((ys - cy) ** 2, weights=w)
    qxy = np.average((xs - cx) * (ys - cy), weights=w)
    degrees = np.degrees(0.5 * np.arctan2(2 * qxy, qxx - qyy)) % 90.0
    return max(np.ptp(xs), np.ptp(ys)) + 1, min(degrees, 90.0 - degrees)


def main():
    stamps = [s for s in load_footprints("all").stamps if np.asarray(s).max() > 0]
    table = np.array([length_and_axis_angle(s) for s in stamps])
    print(f"{len(stamps)} real footprints (LSST ITL darks)\n")
    print("| length (px) | footprints | within 1 deg of an axis | within 2 deg | within 4 deg | expected within 2 deg if random |")
    print("|---|---|---|---|---|---|")
    for shortest in (20, 40, 100):
        long = table[:, 0] >= shortest
        near = [int(np.sum(long & (table[:, 1] <= d))) for d in (1, 2, 4)]
        print(f"| >= {shortest} | {int(long.sum())} | " + " | ".join(map(str, near)) + f" | {long.sum() * 2 / 45:.1f} |")


if __name__ == "__main__":
    main()
