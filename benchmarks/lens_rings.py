"""Does the lens finder take ring galaxies for lenses because of their star-forming knots?

Runs `crclean lenses` (`LensFinder.find`, the full runtime path) over lens-free
tiles of the independent simulator (``_independent_lenses.py``) whose hard
negatives are all ring galaxies, twice: once as the benchmark draws them (3-8
clumps on the ring) and once with the same galaxies' clump light moved into
the smooth annulus (``make_tile(..., ring_clumps=False)``). Each tile has its
own seed, so both passes see the same galaxies at the same places with the
same sky level; only the clumps and the noise realisation differ. It reports
the share of ring galaxies under a detection at conf 0.5, 0.7 and 0.9. A large
gap between the two rows means the finder reads knots as a sign of a lensed
source. A second table sorts the rings as drawn (with clumps) by ring radius
and by whether they have a nucleus, counting each ring once: the rings an
Einstein ring is mistaken for are those near theta_E with a bright centre.

``--bands g,r,i`` makes colour tiles, as ``benchmarks/lenses.py --bands``
does; a multi-band model needs them, a single-band one is given the r band.

The tiles use their own seed (default 555), not the lens benchmark's.

Usage::

    python benchmarks/lens_rings.py [--model NAME] [--checkpoint PATH [--calibration SLOPE OFFSET]]
                                    [--tiles 30] [--views 4|1|8] [--bands g,r,i] [--write-docs]
"""

import argparse
import time

import numpy as np

from _docs import write_section
from _independent_galaxies import NEGATIVE_KINDS
from lenses import (_finder_spec, _model_input, _nearest, _network, add_checkpoint_options,
                    check_checkpoint_options)

THRESHOLDS = (0.5, 0.7, 0.9)
RINGS_ONLY = tuple(float(kind == "ring") for kind in NEGATIVE_KINDS)
RADIUS_BINS = ((1.0, 2.0), (2.0, 3.0), (3.0, 4.0))  # arcsec; the simulator draws 1-4


def ring_detections(finder, spec, *, tiles, seed, ring_clumps, bands=()):
    """Ring galaxies in ``tiles`` lens-free tiles and their detections.

    Returns the number of rings, how many detections at each threshold lie
    on a ring, and one row per ring: its radius (arcsec), nucleus share and
    the best score of a detection on it (0 if none).
    """
    from _independent_lenses import make_tile

    n_rings, flagged, seconds, rings = 0, dict.fromkeys(THRESHOLDS, 0), 0.0, []
    for index in range(tiles):
        # One generator per tile: the Poisson draws consume the stream unevenly, so a shared one would drift.
        tile = make_tile(np.random.default_rng([seed, index]), has_lens=False, negative_weights=RINGS_ONLY,
                         ring_clumps=ring_clumps, bands=bands or None)
        tick = time.perf_counter()
        catalog = finder.find(_model_input(spec, tile["image"], bands), wcs=tile["wcs"],
                              tile=f"tile{index:03d}").catalog
        seconds += time.perf_counter() - tick
        tile_rings = [o for o in tile["objects"] if o["kind"] == "ring"]
        n_rings += len(tile_rings)
        best = np.zeros(len(tile_rings))
        radius = 3.0 / tile["pixel_scale"]
        for row in catalog:
            nearest = _nearest(tile["objects"], row["x"], row["y"], radius)
            if nearest is not None and nearest["kind"] == "ring":
                for threshold in THRESHOLDS:
                    flagged[threshold] += int(row["score"] >= threshold)
                ring = tile_rings.index(nearest)
                best[ring] = max(best[ring], row["score"])
        rings += [(o["ring_radius"], o["nucleus_share"], score) for o, score in zip(tile_rings, best)]
        print(f"  clumps={ring_clumps} tile {index:3d}: rings so far {n_rings}, flagged at 0.9 "
              f"{flagged[0.9]} ({seconds:.0f} s)", flush=True)
    return n_rings, flagged, np.array(rings, float).reshape(-1, 3)


def _by_shape(rings):
    """Table lines: the share of rings flagged at each threshold, by radius and by nucleus."""
    radius, nucleus, best = rings.T
    groups = [(f"radius {low:g}-{high:g} arcsec", (radius >= low) & (radius < high)) for low, high in RADIUS_BINS]
    groups += [("no nucleus", nucleus == 0), ("nucleus, under 10% of the light", (nucleus > 0) & (nucleus < 0.1)),
               ("nucleus, 10% of the light or more", nucleus >= 0.1)]
    lines = ["| rings as drawn | rings | " + " | ".join(f"flagged at conf {t:g}" for t in THRESHOLDS) + " |",
             "|---|---|" + "---|" * len(THRESHOLDS)]
    for name, chosen in groups:
        n = int(chosen.sum())
        cells = " | ".join(f"{int((best[chosen] >= t).sum())} ({(best[chosen] >= t).mean() if n else 0:.3f})"
                           for t in THRESHOLDS)
        lines.append(f"| {name} | {n} | {cells} |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="lens model name (default: crclean's default lens model)")
    add_checkpoint_options(parser)
    parser.add_argument("--tiles", type=int, default=30, help="lens-free tiles per pass")
    parser.add_argument("--seed", type=int, default=555)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--views", type=int, choices=(1, 4, 8), default=4)
    parser.add_argument("--bands", type=lambda text: tuple(text.split(",")) if text else (), default=(),
                        metavar="g,r,i", help="colour tiles with these bands (default: single band)")
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args(argv)
    check_checkpoint_options(parser, args)

    import torch

    from crclean.lenses import LensFinder
    from crclean.lenses._manifest import DEFAULT_LENS_MODEL

    torch.set_num_threads(args.threads)
    model = args.model or DEFAULT_LENS_MODEL
    network = _network(args.checkpoint) if args.checkpoint else None
    spec = _finder_spec(args, model, network)
    if spec.bands and spec.bands != args.bands:
        parser.error(f"{spec.name} takes bands {','.join(spec.bands)}; give --bands {','.join(spec.bands)}")
    finder = LensFinder(spec, conf=min(THRESHOLDS), device="cpu", network=network, views=args.views).load()
    rows = []
    for ring_clumps in (True, False):
        n_rings, flagged, rings = ring_detections(finder, spec, tiles=args.tiles, seed=args.seed,
                                                  ring_clumps=ring_clumps, bands=args.bands)
        rows.append((ring_clumps, n_rings, flagged))
        if ring_clumps:
            by_shape = _by_shape(rings)

    name = args.checkpoint or model
    colour = f" in bands {','.join(args.bands)}" if args.bands else ""
    lines = [f"Model `{name}`, {args.views} views, {args.tiles} lens-free independent tiles{colour} (seed "
             f"{args.seed}) whose hard negatives are all ring galaxies; a ring counts as flagged when a "
             "detection's nearest non-star object within 3 arcsec is that ring.", "",
             "| ring clumps | rings | " + " | ".join(f"flagged at conf {t:g}" for t in THRESHOLDS) + " |",
             "|---|---|" + "---|" * len(THRESHOLDS)]
    for ring_clumps, n_rings, flagged in rows:
        cells = " | ".join(f"{flagged[t]} ({flagged[t] / max(n_rings, 1):.3f})" for t in THRESHOLDS)
        lines.append(f"| {'3-8 (as benchmarked)' if ring_clumps else 'none'} | {n_rings} | {cells} |")
    lines += ["", "The rings with clumps by shape, each ring counted once (its best detection):", ""] + by_shape
    print("\n" + "\n".join(lines))
    if args.write_docs:
        source = (f"--checkpoint {args.checkpoint}" + (
            f" --calibration {args.calibration[0]:g} {args.calibration[1]:g}" if args.calibration else "")
                  if args.checkpoint else f"--model {model}")
        command = f"python benchmarks/lens_rings.py {source} --tiles {args.tiles} --views {args.views}" + (
            f" --bands {','.join(args.bands)}" if args.bands else "")
        write_section(f"lens-rings-{name}" + (f"-{''.join(args.bands)}" if args.bands else ""),
                      f"Lens finder on ring galaxies with and without clumps ({name}{colour})",
                      command, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
