"""Benchmark of `crclean lenses` on held-out simulated survey tiles (not cutouts).

Tiles of 1000 x 1000 pixels at 0.2 arcsec/pixel are built from stamp banks
rendered with seeds the training never used: each lens tile holds one lens
among 12 hard negatives (a third of them ring galaxies), ~100 field galaxies
and ~25 stars; lens-free tiles hold the same minus the lens. Tiles carry a sky
level with a gradient, a per-tile noise level, and some a NaN border; they go
through the full runtime path (`crclean.lenses.LensFinder.find`).

Reports AP@50 (detections pooled over all tiles, score >= 0.05), completeness
and false positives per square degree at --conf, false positives on ring
galaxies, and CPU seconds per square degree (one torch thread).

Usage::

    python benchmarks/lenses.py [--checkpoint PATH] [--tiles 40] [--free-tiles 20] [--conf 0.9]
"""

import argparse
import time

import numpy as np


def _tile_wcs(shape, scale):
    from astropy.wcs import WCS

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [40.0, -30.0]
    wcs.wcs.crpix = [shape[1] / 2 + 0.5, shape[0] / 2 + 0.5]
    wcs.wcs.cd = np.array([[-scale, 0.0], [0.0, scale]]) / 3600.0
    return wcs


def _network(checkpoint):
    import torch

    from crclean.models import build_network

    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if "ema" in state:
        state = state["ema"]
    network = build_network("rtdetr", {})
    network.load_state_dict(state)
    return network.eval()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="rtdetr-lens-v0")
    parser.add_argument("--checkpoint", help="evaluate this state dict instead of the shipped weights")
    parser.add_argument("--tiles", type=int, default=40, help="tiles with one lens each")
    parser.add_argument("--free-tiles", type=int, default=20, help="lens-free tiles")
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--conf", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    import torch

    from crclean.lenses import LensFinder
    from crclean.training.lenses import average_precision, build_bank, compose_scene, match_detections

    torch.set_num_threads(args.threads)
    scale = 0.2
    start = time.perf_counter()
    bank = build_bank(args.seed, n_lenses=max(args.tiles, 1), n_negatives=240, n_field=300, pixel_scale=scale)
    print(f"held-out stamp bank (seed {args.seed}) rendered in {time.perf_counter() - start:.0f} s")
    network = _network(args.checkpoint) if args.checkpoint else None
    finder = LensFinder(args.model, conf=0.05, device="cpu", network=network).load()

    rng = np.random.default_rng(args.seed + 1)
    shape = (args.size, args.size)
    wcs = _tile_wcs(shape, scale)
    scores, hits, n_lenses, seconds = [], [], 0, 0.0
    found_at_conf, fp_at_conf, fp_ring, n_negatives, n_rings = 0, 0, 0, 0, 0
    fp_kinds = {}
    for index in range(args.tiles + args.free_tiles):
        has_lens = index < args.tiles
        sigma = rng.uniform(3.0, 10.0)
        scene = compose_scene(rng, bank, shape, n_lenses=int(has_lens), n_negatives=12, n_field=100,
                              n_stars=25, sigma=sigma, seeing_range=(0.65, 1.05), lens_margin=4,
                              sky_level=rng.uniform(100, 1000))
        yy, xx = np.mgrid[0:args.size, 0:args.size] / args.size
        image = scene.image + sigma * (2.0 * xx - 1.0 * yy)  # a sky gradient
        if index % 4 == 3:
            image[:, : rng.integers(20, 80)] = np.nan  # a chip edge
        tick = time.perf_counter()
        catalog = finder.find(image, wcs=wcs, tile=f"tile{index:03d}").catalog
        seconds += time.perf_counter() - tick
        boxes = np.stack([catalog["xmin"], catalog["ymin"], catalog["xmax"] + 1, catalog["ymax"] + 1], -1) \
            if len(catalog) else np.zeros((0, 4))
        score = np.asarray(catalog["score"], float)
        hit = match_detections(boxes, score, scene.boxes)
        scores.append(score)
        hits.append(hit)
        n_lenses += len(scene.boxes)
        confident = score >= args.conf
        found_at_conf += int(match_detections(boxes[confident], score[confident], scene.boxes).sum())
        others = [o for o in scene.objects if o["kind"] not in ("lens", "field", "star")]
        n_negatives += len(others) + sum(o["kind"] == "field" for o in scene.objects)
        n_rings += sum(o["kind"] == "ring" for o in others)
        for box in boxes[confident & ~hit]:
            fp_at_conf += 1
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            near = [o for o in scene.objects if o["kind"] != "star" and np.hypot(o["x"] - cx, o["y"] - cy) < 15]
            kind = min(near, key=lambda o: np.hypot(o["x"] - cx, o["y"] - cy))["kind"] if near else "sky/star"
            fp_kinds[kind] = fp_kinds.get(kind, 0) + 1
            fp_ring += kind == "ring"
        print(f"  tile {index:3d} lens={int(has_lens)} detections>={args.conf}: {int(confident.sum())} "
              f"(true {int((hit & confident).sum())}) {seconds:.0f} s", flush=True)

    area = (args.tiles + args.free_tiles) * (args.size * scale / 3600.0) ** 2
    ap50 = average_precision(np.concatenate(scores), np.concatenate(hits), max(n_lenses, 1))
    rows = [
        ("tiles (with lens / lens-free)", f"{args.tiles} / {args.free_tiles}"),
        ("area (deg^2)", f"{area:.4f}"),
        ("lenses / non-lens galaxies (rings)", f"{n_lenses} / {n_negatives} ({n_rings})"),
        ("AP@50", f"{ap50:.3f}"),
        (f"completeness at conf {args.conf}", f"{found_at_conf / max(n_lenses, 1):.3f}"),
        (f"false positives at conf {args.conf}", f"{fp_at_conf}"),
        (f"false positives / deg^2 at conf {args.conf}", f"{fp_at_conf / area:.1f}"),
        ("false positives on ring galaxies", f"{fp_ring}"),
        ("false positives by nearest object", ", ".join(f"{k} {v}" for k, v in sorted(fp_kinds.items())) or "-"),
        ("CPU seconds / deg^2 (1 thread)", f"{seconds / area:.0f}"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"\n{'metric'.ljust(width)} | value\n{'-' * width}-|------")
    for name, value in rows:
        print(f"{name.ljust(width)} | {value}")


if __name__ == "__main__":
    main()
