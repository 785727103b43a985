"""Out-of-family benchmark of `crclean lenses --cutouts-in`: AUROC on centred g, r, i cutouts.

The cutouts come from ``benchmarks/_cutout_scenes.py`` (ray shooting coded
here, GalSim galaxies and PSFs), which shares no code with the training
simulator or the tile benchmark, and no crclean model is ever trained on it.
Lenses and look-alikes are drawn in equal numbers per category (see that
module), written as FITS cubes, one file per band with a ``PIXSCALE``
keyword, and scored by the command itself (``crclean lenses --cutouts-in``,
in this process): the full runtime path from the files to the catalogue. A
single-band model is given the r cube, a multi-band one the three.

Printed per model: AUROC (lenses against look-alikes; Mann-Whitney) with a
bootstrap 95% interval, completeness and false-positive fraction at
``--conf``, and per category the median score, the fractions scoring 0.5 and
``--conf`` or more, and the AUROC of that category against all of the other
class. ``--tile-path`` also searches every cutout as a tile (the path
without ``--cutouts-in``), centred in a 256-pixel field of its own noise, for
comparison. ``--control N`` scores cutouts of the tile benchmark's own
simulator, whose lenses the finders find in tiles, as a check of the cutout
path itself.

Usage::

    python benchmarks/lens_cutouts.py [--per-category 40] [--seed 20261205] [--size 96]
                                      [--models rtdetr-lens-v9 rtdetr-lens-v20] [--views 4] [--conf 0.9]
                                      [--tile-path] [--control N] [--keep DIR]
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from _cutout_scenes import BANDS, LENS_CATEGORIES, NON_LENS_CATEGORIES, make_cutout_set


def auroc(positive, negative):
    """Probability that a random positive outscores a random negative (ties count half)."""
    positive, negative = np.asarray(positive, float), np.asarray(negative, float)
    if not len(positive) or not len(negative):
        return float("nan")
    greater = (positive[:, None] > negative[None, :]).sum()
    ties = (positive[:, None] == negative[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(positive) * len(negative)))


def bootstrap_interval(positive, negative, *, draws=500, seed=0):
    """2.5 and 97.5 percentiles of the AUROC over resamples of both classes."""
    rng = np.random.default_rng(seed)
    values = [auroc(rng.choice(positive, len(positive)), rng.choice(negative, len(negative))) for _ in range(draws)]
    return np.percentile(values, [2.5, 97.5])


def write_cubes(images, folder, pixel_scale):
    """One FITS cube per band, ``cutouts_{band}.fits``: plane i is cutout i."""
    from astropy.io import fits

    for b, band in enumerate(BANDS):
        header = fits.Header([("PIXSCALE", pixel_scale, "arcsec per pixel"), ("FILTER", band),
                              ("COMMENT", "benchmarks/_cutout_scenes.py: out-of-family lens benchmark")])
        fits.writeto(Path(folder) / f"cutouts_{band}.fits", images[:, b], header, overwrite=False)


def score_with_cli(folder, model, views, conf):
    """Run ``crclean lenses --cutouts-in`` on the cubes and return its catalogue."""
    from astropy.table import Table

    from crclean.cli import main
    from crclean.lenses import get_lens_model

    spec = get_lens_model(model)
    source = str(Path(folder) / ("cutouts_{band}.fits" if spec.bands else "cutouts_r.fits"))
    output = Path(folder) / f"{model}.ecsv"
    main.main(["lenses", "--cutouts-in", source, "--model", model, "--views", str(views), "--conf", str(conf),
               "-o", str(output), "-q"], standalone_mode=False)
    return Table.read(output)


def tile_path_scores(images, model, views, *, field=256, seed=0):
    """Scores of the cutouts searched as tiles: each centred in a ``field``-pixel square of its own sky and noise.

    The comparison for ``--cutouts-in``: the tile path measures the sky on a
    mesh and looks at the cutout across several windows. A cutout's score is
    the best detection (>= 0.02) centred inside it; 0 without one.
    """
    from astropy.stats import sigma_clipped_stats

    from crclean.lenses import LensFinder, get_lens_model

    spec = get_lens_model(model)
    finder = LensFinder(model, conf=0.02, views=views).load()
    rng = np.random.default_rng(seed)
    size = images.shape[-1]
    start = (field - size) // 2
    scores = []
    for cutout in images:
        bands = cutout if spec.bands else cutout[1:2]  # r alone for a single-band model
        canvas = np.empty((len(bands), field, field), np.float32)
        for b, band in enumerate(bands):
            frame = np.ones(band.shape, bool)
            frame[8:-8, 8:-8] = False
            border = band[frame]
            _, sky, sigma = sigma_clipped_stats(border, stdfunc="mad_std")
            canvas[b] = sky + rng.normal(0.0, sigma, (field, field))
            canvas[b, start:start + size, start:start + size] = band
        found = finder.find(canvas if spec.bands else canvas[0]).catalog
        inside = ((found["x"] >= start) & (found["x"] < start + size) & (found["y"] >= start)
                  & (found["y"] < start + size))
        scores.append(float(np.max(found["score"][inside])) if inside.any() else 0.0)
    return np.array(scores)


def theta_e_line(model, catalog, truths):
    """Bias and scatter of the catalogue's theta_E on the lenses scoring 0.5 or more (extended arcs and rings)."""
    chosen = [i for i, t in enumerate(truths)
              if t.is_lens and t.category not in ("double", "quad") and catalog["score"][i] >= 0.5]
    if not chosen:
        return f"- {model}: no lens scored 0.5 or more"
    estimate = np.asarray(catalog["theta_e_arcsec"], float)[chosen]
    drawn = np.array([truths[i].theta_e for i in chosen])
    error = estimate - drawn
    return (f"- {model}: {len(chosen)} lenses, estimate - drawn median {np.median(error):+.2f} arcsec, "
            f"scatter (1.4826 MAD) {1.4826 * np.median(np.abs(error - np.median(error))):.2f} arcsec, "
            f"drawn {drawn.min():.1f}-{drawn.max():.1f} arcsec")


def control_cutouts(count, size, seed):
    """Cutouts of the tile benchmark's simulator (``_independent_lenses``, 0.263 arcsec, g, r, i), as a control.

    ``count`` cutouts centred on the lens of a lens tile and ``count`` on a
    look-alike (ring, spiral, merger, edge-on or elliptical) of a lens-free
    tile, each ``size`` pixels and clear of chip gaps. The finders find
    these lenses in tiles (docs/lenses.md), so a low AUROC here would point
    at the cutout path rather than at the out-of-family scenes.
    """
    from _independent_lenses import make_tile

    half, images, labels, attempt = size // 2, [], [], 0
    while len(images) < 2 * count:
        has_lens = len(labels) < count
        tile = make_tile(np.random.default_rng([seed, attempt]), (320, 320), has_lens=has_lens, bands=BANDS)
        attempt += 1
        kinds = ("ring", "spiral", "merger", "edge_on", "elliptical")
        centres = ([(lens["x"], lens["y"]) for lens in tile["lenses"]] if has_lens
                   else [(o["x"], o["y"]) for o in tile["objects"] if any(k in o["kind"] for k in kinds)])
        for x, y in centres[:1]:
            x0, y0 = int(round(x)) - half, int(round(y)) - half
            cut = tile["image"][:, max(y0, 0):y0 + size, max(x0, 0):x0 + size]
            if cut.shape[-2:] == (size, size) and np.isfinite(cut).all():
                images.append(cut)
                labels.append(has_lens)
    return np.stack(images).astype(np.float32), np.array(labels)


def reliability_line(model, scores, is_lens, edges=(0.0, 0.1, 0.5, 0.9, 1.0)):
    """Fraction of lenses among the cutouts in each score bin (at this set's share of lenses)."""
    parts = []
    for low, high in zip(edges[:-1], edges[1:]):
        chosen = (scores >= low) & ((scores < high) if high < 1.0 else (scores <= high))
        share = f"{np.mean(is_lens[chosen]):.2f}" if chosen.any() else "-"
        parts.append(f"{low:g}-{high:g}: {share} of {chosen.sum()}")
    return f"- {model}: " + "; ".join(parts)


def category_rows(scores, truths, conf):
    """Markdown rows: per category n, median score, fraction >= 0.5, >= conf, AUROC against the other class."""
    is_lens = np.array([t.is_lens for t in truths])
    categories = np.array([t.category for t in truths])
    rows = []
    groups = [(c, categories == c) for c in LENS_CATEGORIES + NON_LENS_CATEGORIES]
    bluer = np.array([t.lens_bluer_than_source for t in truths]) & is_lens
    groups.append(("lens bluer than its arcs (all lens categories)", bluer))
    # Issue 29's "resolvable" lenses, over all lens categories.
    resolvable = np.array([t.theta_e >= 1.3 * t.seeing and t.arc_snr >= 30 for t in truths]) & is_lens
    groups.append(("resolvable: theta_E >= 1.3 x FWHM, arc S/N >= 30", resolvable))
    for name, chosen in groups:
        values = scores[chosen]
        lens_group = bool(is_lens[chosen].all())
        other = scores[~is_lens] if lens_group else scores[is_lens]
        area = auroc(values, other) if lens_group else auroc(other, values)
        rows.append(f"| {name} | {'lens' if lens_group else 'non-lens'} | {chosen.sum()} | {np.median(values):.3f} | "
                    f"{np.mean(values >= 0.5):.2f} | {np.mean(values >= conf):.2f} | {area:.3f} |")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-category", type=int, default=40)
    parser.add_argument("--seed", type=int, default=20261205)
    parser.add_argument("--size", type=int, default=96, help="cutout side in pixels (64-128)")
    parser.add_argument("--pixel-scale", type=float, default=0.2)
    parser.add_argument("--models", nargs="+", default=["rtdetr-lens-v9", "rtdetr-lens-v20"])
    parser.add_argument("--views", type=int, choices=(1, 4, 8), default=4)
    parser.add_argument("--conf", type=float, default=0.9)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--tile-path", action="store_true",
                        help="also search each cutout as a tile (centred in a 256-pixel field of its own noise) "
                             "and print both AUROCs")
    parser.add_argument("--control", type=int, default=0, metavar="N",
                        help="also score N lens and N look-alike cutouts of the tile benchmark's simulator "
                             "(0.263 arcsec) as a control of the cutout path")
    parser.add_argument("--keep", type=Path, default=None, help="write the cubes and catalogues here and keep them")
    args = parser.parse_args(argv)
    if not 64 <= args.size <= 128:
        parser.error(f"--size must be 64-128, got {args.size}")
    import torch

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    images, truths = make_cutout_set(args.seed, args.per_category, size=args.size, pixel_scale=args.pixel_scale)
    print(f"drew {len(truths)} cutouts ({args.per_category} per category) in {time.perf_counter() - start:.0f} s")
    is_lens = np.array([t.is_lens for t in truths])
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        write_cubes(images, folder, args.pixel_scale)
        summary, tables, theta_lines, reliability = [], {}, [], []
        for model in args.models:
            start = time.perf_counter()
            catalog = score_with_cli(folder, model, args.views, args.conf)
            seconds = time.perf_counter() - start
            if list(catalog["index"]) != list(range(len(truths))):
                raise RuntimeError(f"{model}: the catalogue's rows do not follow the cutouts")
            scores = np.asarray(catalog["score"], float)
            low, high = bootstrap_interval(scores[is_lens], scores[~is_lens])
            summary.append(f"| {model} | {auroc(scores[is_lens], scores[~is_lens]):.3f} ({low:.3f}-{high:.3f}) | "
                           f"{np.mean(scores[is_lens] >= args.conf):.2f} | {np.mean(scores[~is_lens] >= args.conf):.2f}"
                           f" | {np.mean(scores[is_lens] >= 0.5):.2f} | {np.mean(scores[~is_lens] >= 0.5):.2f} | "
                           f"{seconds:.0f} |")
            tables[model] = category_rows(scores, truths, args.conf)
            theta_lines.append(theta_e_line(model, catalog, truths))
            reliability.append(reliability_line(model, scores, is_lens))
            if args.tile_path:
                start = time.perf_counter()
                tiled = tile_path_scores(images, model, args.views)
                low, high = bootstrap_interval(tiled[is_lens], tiled[~is_lens])
                summary.append(f"| {model}, searched as 256-px tiles | {auroc(tiled[is_lens], tiled[~is_lens]):.3f} "
                               f"({low:.3f}-{high:.3f}) | {np.mean(tiled[is_lens] >= args.conf):.2f} | "
                               f"{np.mean(tiled[~is_lens] >= args.conf):.2f} | {np.mean(tiled[is_lens] >= 0.5):.2f} | "
                               f"{np.mean(tiled[~is_lens] >= 0.5):.2f} | {time.perf_counter() - start:.0f} |")
    print(f"\n{is_lens.sum()} lenses, {(~is_lens).sum()} look-alikes, {args.size} px at {args.pixel_scale} arcsec, "
          f"seed {args.seed}, views {args.views}\n")
    print(f"| model | AUROC (95% bootstrap) | lenses >= {args.conf:g} | non-lenses >= {args.conf:g} | lenses >= 0.5 | "
          "non-lenses >= 0.5 | seconds |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(summary))
    print(f"\nLenses among the cutouts per score bin (this set is {np.mean(is_lens):.0%} lenses):\n")
    print("\n".join(reliability))
    if args.control:
        print(f"\nControl: {args.control} lens and {args.control} look-alike cutouts ({args.size} px at 0.263 "
              "arcsec) from the tile benchmark's simulator (benchmarks/_independent_lenses.py):\n")
        control, labels = control_cutouts(args.control, args.size, args.seed)
        with tempfile.TemporaryDirectory() as scratch:
            write_cubes(control, scratch, 0.263)
            for model in args.models:
                scores = np.asarray(score_with_cli(scratch, model, args.views, args.conf)["score"], float)
                print(f"- {model}: AUROC {auroc(scores[labels], scores[~labels]):.3f}, lenses >= {args.conf:g} "
                      f"{np.mean(scores[labels] >= args.conf):.2f}, look-alikes >= {args.conf:g} "
                      f"{np.mean(scores[~labels] >= args.conf):.2f}")
    print("\nEinstein radius from the box (catalogue theta_e_arcsec) against the drawn one, lenses scoring >= 0.5:\n")
    print("\n".join(theta_lines))
    for model, rows in tables.items():
        print(f"\n{model}\n\n| category | class | n | median score | >= 0.5 | >= {args.conf:g} | AUROC against the "
              "other class |\n|---|---|---|---|---|---|---|")
        print("\n".join(rows))


if __name__ == "__main__":
    main()
