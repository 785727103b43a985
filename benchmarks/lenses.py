"""Benchmark of `crclean lenses` on held-out simulated survey tiles (not cutouts).

Three tile simulators:

- ``crclean`` (default): 1000 x 1000 tiles at 0.2 arcsec/pixel from crclean's
  own simulator, with stamp banks rendered from seeds the training never used.
  Each lens tile holds one lens among 12 hard negatives (a third of them ring
  galaxies), 15 bright ellipticals without arcs, ~100 field galaxies and ~25
  stars; lens-free tiles hold the same minus the lens. Tiles carry a sky level with a gradient, a per-tile noise
  level, and some a NaN border.
- ``independent``: 800 x 800 DECam-like tiles at 0.263 arcsec/pixel from
  ``benchmarks/_independent_lenses.py``, a simulator that shares no code with
  the training one (power-law lenses, double-Gaussian PSF, Poisson noise in
  counts with the sky left in, bright ellipticals without arcs). The finder
  has to resample these tiles to its own pixel scale.
- ``galsim``: 640 x 640 tiles at 0.2 arcsec/pixel from the out-of-family
  cutout simulator (``benchmarks/_cutout_tiles.py``: its own ray shooting,
  GalSim lens light, look-alikes, field galaxies, stars and PSFs; lenses of
  six categories, among them lenses without lens light, doubles and quads).
  Give ``--bands g,r,i`` to every model so that all see the same tiles.

``--bands g,r,i`` makes multi-band tiles (one image per band, each with its
own depth, seeing and noise; ``colour_parts`` banks for crclean's simulator).
A multi-band model is given every band; a single-band model is given the
tiles' reference band (r), so two models can be compared on the same tiles.

Every tile goes through the full runtime path (`crclean.lenses.LensFinder.find`).
Reports AP@50 (detections pooled over all tiles, score >= 0.05), the same AP@50
over only the lenses with arc S/N >= 30 and theta_E >= 1 arcsec (detections of
the other lenses dropped, not counted false), completeness
and false positives per square degree at several thresholds, false positives
on ring galaxies, completeness by arc signal-to-noise, Einstein radius and
lens-to-arc flux ratio, and
CPU seconds per square degree (one torch thread). ``--save-detections`` keeps
every tile's detection scores and matches for ``benchmarks/compare_lenses.py``;
``--list-missed`` prints each lens left below ``--conf`` with its draw and the
closest box's IoU and score.

Usage::

    python benchmarks/lenses.py [--simulator crclean|independent|galsim] [--model NAME]
                                [--checkpoint PATH [--calibration SLOPE OFFSET]]
                                [--views 4|1|8] [--bands g,r,i] [--tiles 120] [--free-tiles 40] [--conf 0.9] [--write-docs]
                                [--save-detections RUN.npz] [--list-missed]
"""

import argparse
import time
from pathlib import Path

import numpy as np

from _docs import write_section


def _tile_wcs(shape, scale, *, ra=40.0, dec=-30.0):
    from astropy.wcs import WCS

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [shape[1] / 2 + 0.5, shape[0] / 2 + 0.5]
    wcs.wcs.cd = np.array([[-scale, 0.0], [0.0, scale]]) / 3600.0
    return wcs


def _network(checkpoint):
    import torch

    from crclean.models import build_network
    from crclean.models.rtdetr import structure_from_state

    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if "ema" in state:
        state = state["ema"]
    # Bands, a fine (stride-4) level and added residual blocks show in the checkpoint's tensors.
    network = build_network("rtdetr", structure_from_state(state))
    network.load_state_dict(state)
    return network.eval()


def _finder_spec(args, model, network=None):
    """The model spec to run: the named model, with ``--calibration`` replacing its score calibration.

    A multi-band ``--checkpoint`` (``network``) takes the tiles' ``--bands`` as its own.
    """
    from dataclasses import replace

    from crclean.lenses._manifest import get_lens_model

    spec = get_lens_model(model)
    if args.calibration:
        spec = replace(spec, score_slope=args.calibration[0], score_offset=args.calibration[1])
    channels = network.config.get("in_channels", 1) if network is not None else spec.n_bands
    if channels != spec.n_bands:
        if len(args.bands) != channels:
            raise SystemExit(f"--checkpoint {args.checkpoint} takes {channels} bands; give as many with --bands")
        spec = replace(spec, config={**spec.config, "in_channels": channels}, bands=args.bands)
    return spec


def _model_input(spec, image, bands):
    """What the model is given: every band for a multi-band model, the reference band for a single-band one."""
    from crclean.lenses._bands import reference_index

    if not bands or spec.bands:
        return image
    return image[reference_index(bands)]


def add_checkpoint_options(parser):
    """``--checkpoint`` and ``--calibration``, shared with ``lens_rings.py``."""
    parser.add_argument("--checkpoint", help="evaluate this state dict instead of the shipped weights")
    parser.add_argument("--calibration", nargs=2, type=float, metavar=("SLOPE", "OFFSET"),
                        help="with --checkpoint: its score calibration (from its model card); "
                             "otherwise the model's own is applied")


def check_checkpoint_options(parser, args):
    """A usage error for ``--calibration`` without ``--checkpoint``."""
    if args.calibration and not args.checkpoint:
        parser.error("--calibration goes with --checkpoint; a named model has its own")


def _save_detections(args, model, scores, hits, n_truth):
    """Per-tile detection scores and matches of this run (``tile`` gives each detection's tile)."""
    tile = np.concatenate([np.full(len(s), index) for index, s in enumerate(scores)])
    np.savez_compressed(args.save_detections, scores=np.concatenate(scores), hits=np.concatenate(hits),
                        tile=tile.astype(int), n_truth=np.asarray(n_truth, int),
                        simulator=args.simulator, seed=args.seed, model=args.checkpoint or model,
                        views=args.views, size=args.size or 0, bands=",".join(args.bands))
    print(f"detections saved to {args.save_detections}")


def crclean_tiles(args):
    """Tiles from crclean's own simulator with held-out stamp banks."""
    from crclean.training.lenses import build_bank, compose_scene

    scale, size = 0.2, args.size or 1000
    start = time.perf_counter()
    bank = build_bank(args.seed, n_lenses=max(args.tiles, 200), n_negatives=240, n_field=300, pixel_scale=scale,
                      colour_parts=bool(args.bands))
    print(f"held-out stamp bank (seed {args.seed}) rendered in {time.perf_counter() - start:.0f} s")
    rng = np.random.default_rng(args.seed + 1)
    shape = (size, size)
    wcs = _tile_wcs(shape, scale)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for index in range(args.tiles + args.free_tiles):
        sigma = rng.uniform(3.0, 10.0)
        scene = compose_scene(rng, bank, shape, n_lenses=int(index < args.tiles), n_negatives=12, n_field=100,
                              n_stars=25, n_ellipticals=15, sigma=sigma, seeing_range=(0.65, 1.05), lens_margin=4,
                              sky_level=rng.uniform(100, 1000), bands=args.bands or None)
        image = scene.image + sigma * (2.0 * xx - 1.0 * yy)  # a sky gradient
        if index % 4 == 3:
            image[..., : rng.integers(20, 80)] = np.nan  # a chip edge
        lenses = [o for o in scene.objects if o["kind"] == "lens"]
        yield {"image": image, "wcs": wcs, "pixel_scale": scale, "boxes": scene.boxes, "lenses": lenses,
               "objects": [o for o in scene.objects if o["kind"] != "lens"]}


def independent_tiles(args):
    """Tiles from the independent simulator (see ``_independent_lenses.py``)."""
    from _independent_lenses import make_tile

    rng = np.random.default_rng(args.seed + 2)
    shape = (args.size or 800,) * 2
    for index in range(args.tiles + args.free_tiles):
        yield make_tile(rng, shape, has_lens=index < args.tiles, bands=args.bands or None)


def galsim_tiles(args):
    """Tiles from the out-of-family cutout simulator (see ``_cutout_tiles.py``), 0.2 arcsec/pixel."""
    from _cutout_tiles import make_tile

    shape = (args.size or 640,) * 2
    for index in range(args.tiles + args.free_tiles):
        tile = make_tile(args.seed + 3, index, shape, has_lens=index < args.tiles, bands=args.bands or ("r",))
        tile["wcs"] = _tile_wcs(shape, tile["pixel_scale"])
        yield tile


SIMULATORS = {"crclean": crclean_tiles, "independent": independent_tiles, "galsim": galsim_tiles}
SNR_BINS = (0, 30, 60, 120, np.inf)
THETA_E_BINS = (0.0, 1.0, 1.5, 2.0, np.inf)
LENS_TO_ARC_BINS = (0.0, 1.0, 2.0, 4.0, np.inf)  # lens galaxy flux / arc flux, in the reference band
DETECTABLE = {"arc_snr": 30.0, "theta_e": 1.0}  # see "Where the rest is lost" in docs/lens-experiments.md


def _detectable(lens):
    return lens["arc_snr"] >= DETECTABLE["arc_snr"] and lens["theta_e"] >= DETECTABLE["theta_e"]


def _nearest(objects, cx, cy, radius):
    """The nearest non-star object within ``radius`` pixels of ``(cx, cy)``, or None."""
    near = [o for o in objects if o["kind"] != "star" and np.hypot(o["x"] - cx, o["y"] - cy) < radius]
    return min(near, key=lambda o: np.hypot(o["x"] - cx, o["y"] - cy)) if near else None


def _nearest_kind(objects, cx, cy, radius):
    nearest = _nearest(objects, cx, cy, radius)
    return nearest["kind"] if nearest else "sky/star"


def _binned(values, found, edges, label):
    cells = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (values >= low) & (values < high)
        name = f"{label} {low:g}-{high:g}" if np.isfinite(high) else f"{label} >= {low:g}"
        cells.append((name, f"{found[inside].mean():.2f} ({int(inside.sum())})" if inside.any() else "-"))
    return cells


def _print_missed(truth_rows, conf):
    """A line per lens below ``conf``: where the finder's doubt falls (found but scored low, or not boxed)."""
    missed = [row for row in truth_rows if row[2] < conf]
    print(f"\nlenses below conf {conf:g}: {len(missed)} of {len(truth_rows)}; "
          f"{sum(row[3] >= 0.5 for row in missed)} of them boxed at IoU >= 0.5")
    print("tile  theta_E  arc S/N  lens/arc  closest box: IoU  score")
    for tile, lens, _, iou, score in sorted(missed, key=lambda row: -row[1]["arc_snr"]):
        print(f"{tile:4d}  {lens['theta_e']:7.2f}  {lens['arc_snr']:7.1f}  {lens['lens_to_arc']:8.2f}"
              f"  {iou:16.2f}  {score:5.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulator", choices=sorted(SIMULATORS), default="crclean")
    parser.add_argument("--model", default=None, help="lens model name (default: crclean's default lens model)")
    add_checkpoint_options(parser)
    parser.add_argument("--tiles", type=int, default=120, help="tiles with one lens each")
    parser.add_argument("--free-tiles", type=int, default=40, help="lens-free tiles")
    parser.add_argument("--size", type=int, default=None, help="tile side (default 1000 crclean, 800 independent, 640 galsim)")
    parser.add_argument("--conf", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--views", type=int, choices=(1, 4, 8), default=4,
                        help="test-time views (see --views of crclean lenses)")
    parser.add_argument("--bands", type=lambda text: tuple(text.split(",")) if text else (), default=(),
                        metavar="g,r,i", help="multi-band tiles with these bands (default: single band)")
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/benchmarks.md")
    parser.add_argument("--list-missed", action="store_true",
                        help="print every lens below --conf: its draw, the best box's IoU and score")
    parser.add_argument("--save-detections", metavar="RUN.npz",
                        help="save per-tile scores and matches for benchmarks/compare_lenses.py")
    args = parser.parse_args(argv)
    check_checkpoint_options(parser, args)
    if args.save_detections and not args.save_detections.endswith(".npz"):
        parser.error("--save-detections takes a file name ending in .npz")
    if args.save_detections and Path(args.save_detections).exists():
        parser.error(f"{args.save_detections} exists; choose another name or remove it")

    import torch

    from crclean.lenses import LensFinder
    from crclean.lenses._manifest import DEFAULT_LENS_MODEL
    from crclean.training.lenses import average_precision, match_detections
    from crclean.training.lenses._metrics import iou_matrix

    torch.set_num_threads(args.threads)
    model = args.model or DEFAULT_LENS_MODEL
    network = _network(args.checkpoint) if args.checkpoint else None
    spec = _finder_spec(args, model, network)
    if spec.bands and spec.bands != args.bands:
        parser.error(f"{spec.name} takes bands {','.join(spec.bands)}; give --bands {','.join(spec.bands)}")
    finder = LensFinder(spec, conf=0.05, device="cpu", network=network, views=args.views).load()
    thresholds = sorted({0.5, 0.7, args.conf})

    scores, hits, n_truth, seconds, area = [], [], [], 0.0, 0.0
    # The same AP restricted to lenses bright and wide enough to see in one band (DETECTABLE); detections
    # of the other lenses are dropped rather than counted false, so the subset figure shows where AP is lost.
    easy_scores, easy_hits, n_easy = [], [], 0
    truth_rows = []  # per lens: tile, truth, best score at IoU >= 0.5, the closest box's IoU and score
    false_by_threshold = {t: 0 for t in thresholds}
    fp_kinds, fp_ring, n_others, n_rings = {}, 0, 0, 0
    for index, tile in enumerate(SIMULATORS[args.simulator](args)):
        tick = time.perf_counter()
        catalog = finder.find(_model_input(spec, tile["image"], args.bands), wcs=tile["wcs"],
                              tile=f"tile{index:03d}").catalog
        seconds += time.perf_counter() - tick
        area += np.prod(tile["image"].shape[-2:]) * (tile["pixel_scale"] / 3600.0) ** 2
        boxes = np.stack([catalog["xmin"], catalog["ymin"], catalog["xmax"] + 1, catalog["ymax"] + 1], -1) \
            if len(catalog) else np.zeros((0, 4))
        score = np.asarray(catalog["score"], float)
        truth = np.asarray(tile["boxes"], float).reshape(-1, 4)
        n_truth.append(len(truth))
        hit = match_detections(boxes, score, truth)
        scores.append(score)
        hits.append(hit)
        ious = iou_matrix(boxes, truth)
        overlaps = ious >= 0.5
        easy = np.array([_detectable(lens) for lens in tile["lenses"]], bool)
        dropped = overlaps[:, ~easy].any(axis=1)
        easy_scores.append(score[~dropped])
        easy_hits.append(match_detections(boxes[~dropped], score[~dropped], truth[easy]))
        n_easy += int(easy.sum())
        for column, lens in enumerate(tile["lenses"]):
            matched = score[overlaps[:, column]]
            closest = int(np.argmax(ious[:, column])) if len(boxes) else None
            truth_rows.append((index, lens, matched.max() if matched.size else 0.0,
                               0.0 if closest is None else ious[closest, column],
                               0.0 if closest is None else score[closest]))
        objects = tile["objects"]
        n_others += sum(o["kind"] != "star" for o in objects)
        n_rings += sum(o["kind"] == "ring" for o in objects)
        for threshold in thresholds:
            false_by_threshold[threshold] += int(((score >= threshold) & ~hit).sum())
        radius = 3.0 / tile["pixel_scale"]
        for box in boxes[(score >= args.conf) & ~hit]:
            kind = _nearest_kind(objects, (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, radius)
            fp_kinds[kind] = fp_kinds.get(kind, 0) + 1
            fp_ring += kind == "ring"
        confident = score >= args.conf
        print(f"  tile {index:3d} lenses={len(truth)} detections>={args.conf}: {int(confident.sum())} "
              f"(true {int((hit & confident).sum())}) {seconds:.0f} s", flush=True)

    if args.save_detections:
        _save_detections(args, model, scores, hits, n_truth)
    truth_best, n_lenses = np.array([row[2] for row in truth_rows]), len(truth_rows)  # best score at IoU >= 0.5
    ap50 = average_precision(np.concatenate(scores), np.concatenate(hits), max(n_lenses, 1))
    rows = [
        ("simulator", args.simulator),
        ("model", args.checkpoint or model),
        ("views", f"{args.views}"),
        ("tile bands / model input", f"{','.join(args.bands)} / {','.join(spec.bands) or 'r band only'}"
         if args.bands else "single band"),
        ("tiles (with lens / lens-free)", f"{args.tiles} / {args.free_tiles}"),
        ("area (deg^2)", f"{area:.4f}"),
        ("lenses / other galaxies (rings)", f"{n_lenses} / {n_others} ({n_rings})"),
        ("AP@50", f"{ap50:.3f}"),
        (f"AP@50, only lenses with arc S/N >= {DETECTABLE['arc_snr']:g} and theta_E >= "
         f"{DETECTABLE['theta_e']:g} arcsec ({n_easy})",
         f"{average_precision(np.concatenate(easy_scores), np.concatenate(easy_hits), max(n_easy, 1)):.3f}"),
    ]
    for threshold in thresholds:
        rows += [(f"completeness at conf {threshold:g}", f"{np.mean(truth_best >= threshold):.3f}"),
                 (f"false positives at conf {threshold:g} (per deg^2)",
                  f"{false_by_threshold[threshold]} ({false_by_threshold[threshold] / area:.1f})")]
    rows += [
        (f"false positives on ring galaxies at conf {args.conf:g}", f"{fp_ring}"),
        (f"false positives by nearest object at conf {args.conf:g}",
         ", ".join(f"{k} {v}" for k, v in sorted(fp_kinds.items())) or "-"),
    ]
    found = truth_best >= args.conf
    truth_snr, truth_theta, truth_ratio = (np.array([row[1][key] for row in truth_rows])
                                           for key in ("arc_snr", "theta_e", "lens_to_arc"))
    rows += [(f"completeness at conf {args.conf:g}, {name}", value)
             for name, value in _binned(truth_snr, found, SNR_BINS, "arc S/N")
             + _binned(truth_theta, found, THETA_E_BINS, "theta_E (arcsec)")
             + _binned(truth_ratio, found, LENS_TO_ARC_BINS, "lens/arc flux")]
    threads = "1 thread" if args.threads == 1 else f"{args.threads} threads"
    rows.append((f"CPU seconds / deg^2 ({threads})", f"{seconds / area:.0f}"))
    width = max(len(name) for name, _ in rows)
    table = "\n".join([f"| {'metric'.ljust(width)} | value |", f"|{'-' * (width + 2)}|-------|"]
                      + [f"| {name.ljust(width)} | {value} |" for name, value in rows])
    print("\n" + table)
    if args.list_missed:
        _print_missed(truth_rows, args.conf)
    if args.write_docs:
        command = f"python benchmarks/lenses.py --simulator {args.simulator} --views {args.views}" + (
            f" --bands {','.join(args.bands)}" if args.bands else "") + (
            f" --model {args.model}" if args.model else "") + (
            f" --seed {args.seed}" if args.seed != parser.get_default("seed") else "") + (
            f" --threads {args.threads}") + (
            f" --checkpoint {args.checkpoint}" if args.checkpoint else "") + (
            f" --calibration {args.calibration[0]:g} {args.calibration[1]:g}" if args.calibration else "")
        bands = "".join(args.bands)
        write_section(f"lenses-{args.simulator}" + (f"-{bands}" if bands else ""),
                      f"Lens finder on {args.simulator} tiles" + (f" in bands {','.join(args.bands)}" if bands else ""),
                      command,
                      "Completeness counts a lens found when a detection at or above the threshold has IoU >= 0.5 "
                      "with its box; by-bin figures give the fraction and, in brackets, the number of lenses.\n\n"
                      + table + "\n")


if __name__ == "__main__":
    main()
