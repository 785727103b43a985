"""Does ``crclean lenses --clean-cosmics`` help? The lens finder on tiles with and without cosmic rays.

Tiles come from the independent simulator (``_independent_lenses.py``: 800 x 800
DECam-like tiles at 0.263 arcsec/pixel, one band, searched by the default
one-band model), each in two versions: as made (a coadd, no cosmic rays), and
as a single exposure would be, with real LSST cosmic-ray footprints of the
held-out split added (``_independent_footprints.py``; crclean's mask models
never train on them) at the ITL darks' rate for ``--exptime`` seconds, half of
them centred on a non-lens object, since a hit across a galaxy is what looks
like an arc. The footprints' electrons become ADU with the gain read off each
tile's sky (photon noise: gain = sky / variance). Every version is searched
with and without ``--clean-cosmics`` (`crclean.lenses.LensFinder`,
``clean_cosmics``), on the same tiles.

Reported per version: completeness at conf 0.9 and 0.5 on the lenses (a
detection with IoU >= 0.5 against the lens box), false positives per square
degree at 0.9 and 0.5 and how many of them lie within 10 px of an added hit,
and seconds per tile.

    python benchmarks/lens_cosmics.py                       # 24 lens and 24 lens-free tiles
    python benchmarks/lens_cosmics.py --tiles 8 --free-tiles 8 --exptime 300
"""

import argparse
import time

import numpy as np

HIT_RADIUS = 10.0  # px: a false positive this close to an added hit is counted as the hit's


def _with_cosmic_rays(tile, exptime, rng):
    """The tile's image with held-out footprints added, and the (x, y) of every hit."""
    from _independent_footprints import footprint_rate_per_px_s, inject_footprints

    image = tile["image"]
    ny, nx = image.shape
    n = rng.poisson(footprint_rate_per_px_s() * exptime * ny * nx)
    on_objects = [(o["x"], o["y"]) for o in tile["objects"]]
    x, y = rng.uniform(0, nx, n), rng.uniform(0, ny, n)
    aimed = rng.uniform(size=n) < 0.5
    if on_objects:
        picks = rng.integers(len(on_objects), size=n)
        x = np.where(aimed, [on_objects[i][0] for i in picks], x)
        y = np.where(aimed, [on_objects[i][1] for i in picks], y)
    charge, _ = inject_footprints(image.shape, x, y, rng)
    finite = image[np.isfinite(image)]
    sky = np.median(finite)
    sigma = 1.4826 * np.median(np.abs(finite - sky))
    gain = sky / sigma**2
    return (image + charge / gain).astype(np.float32), np.column_stack([x, y])


def _score(finder, tiles, images, hits):
    """Per conf cut: found lenses, lenses, false positives, of them near a hit; and seconds."""
    from crclean.training.lenses._metrics import match_detections

    counts = {cut: [0, 0, 0, 0] for cut in (0.9, 0.5)}
    start = time.perf_counter()
    for tile, image, near in zip(tiles, images, hits):
        catalog = finder.find(image, wcs=tile["wcs"]).catalog
        # As benchmarks/lenses.py: the truth boxes' pixel i spans [i, i + 1).
        boxes = np.stack([catalog["xmin"], catalog["ymin"], catalog["xmax"] + 1, catalog["ymax"] + 1], -1) \
            if len(catalog) else np.zeros((0, 4))
        scores = np.asarray(catalog["score"], float)
        for cut, count in counts.items():
            keep = scores >= cut
            found = match_detections(boxes[keep], scores[keep], tile["boxes"])
            count[0] += int(found.sum())
            count[1] += len(tile["boxes"])
            false = ~found
            count[2] += int(false.sum())
            if len(near) and false.any():
                cx = (boxes[keep][false, 0] + boxes[keep][false, 2]) / 2
                cy = (boxes[keep][false, 1] + boxes[keep][false, 3]) / 2
                distance = np.hypot(cx[:, None] - near[None, :, 0], cy[:, None] - near[None, :, 1]).min(axis=1)
                count[3] += int((distance <= HIT_RADIUS).sum())
    return counts, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=24, help="tiles with one lens each")
    parser.add_argument("--free-tiles", type=int, default=24, help="tiles without a lens")
    parser.add_argument("--exptime", type=float, default=600.0,
                        help="seconds of cosmic rays at the ITL darks' rate (default 600)")
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch's default)")
    args = parser.parse_args(argv)

    import torch
    from _independent_lenses import make_tile

    from crclean.lenses import LensFinder

    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    tiles = [make_tile(rng, (800, 800), has_lens=i < args.tiles) for i in range(args.tiles + args.free_tiles)]
    hit_rng = np.random.default_rng(args.seed + 1)
    with_hits = [_with_cosmic_rays(tile, args.exptime, hit_rng) for tile in tiles]
    area = sum(t["image"].size * (t["pixel_scale"] / 3600) ** 2 for t in tiles)
    versions = {"as made": ([t["image"] for t in tiles], [np.zeros((0, 2))] * len(tiles)),
                f"with cosmic rays ({args.exptime:g} s)": ([i for i, _ in with_hits], [h for _, h in with_hits])}
    n_hits = sum(len(h) for _, h in with_hits)
    print(f"{args.tiles} lens tiles and {args.free_tiles} lens-free tiles of 800x800 px at 0.263 arcsec/px "
          f"({area:.3f} deg^2), independent simulator, seed {args.seed}; {n_hits} held-out LSST footprints added "
          f"({n_hits / len(tiles):.0f} per tile, half on objects); CPU, {torch.get_num_threads()} threads.")
    print("| tiles | --clean-cosmics | found at 0.9 | found at 0.5 | false positives / deg^2 at 0.9 (near a hit) "
          "| at 0.5 (near a hit) | s per tile |")
    print("|---|---|---|---|---|---|---|")
    for clean in (False, True):
        finder = LensFinder(conf=0.05, clean_cosmics=clean).load()
        for label, (images, hits) in versions.items():
            counts, seconds = _score(finder, tiles, images, hits)
            high, low = counts[0.9], counts[0.5]
            print(f"| {label} | {'yes' if clean else 'no'} | {high[0]}/{high[1]} | {low[0]}/{low[1]} | "
                  f"{high[2] / area:.0f} ({high[3]}) | {low[2] / area:.0f} ({low[3]}) | {seconds / len(tiles):.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
