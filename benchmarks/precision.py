"""Reduced-precision masks against float32 on every mask benchmark family, with their speed.

For each family of ``benchmarks/masks.py`` (the same generators and seeds)
and its two real frames (astroscrappy's GMOS cutout, ccdproc's SAAO frame),
the model runs through `crclean.Cleaner` (the product's path) in float32 and
in bfloat16 autocast, and optionally (``--int8``) as an int8 network
quantised statically for oneDNN/x86 (`_int8.py`), and (``--whole-network``)
in bfloat16 with fewer blocks in float32 than crclean keeps: only the input
block, for a model whose spec names more (`crclean.weights.ModelSpec.float32_blocks`),
and none (`crclean.models._inference.keep_input_block_float32`). Each row gives the float32
mask's size, the pixels whose mask differs, that share, the largest
probability difference, how far from the threshold the surest flipped
pixel was, whether that is within `crclean._precision.MASK_TOLERANCE`,
and seconds per megapixel. The precisions run one after another on each
exposure (interleaved), so a busy neighbour on a shared machine slows them
alike; read the speed-up column, not the seconds.

    python benchmarks/precision.py                    # crclean-ccd, 1024 px, 1 exposure per family
    python benchmarks/precision.py --int8 --size 512  # also the int8 evaluation
    python benchmarks/precision.py --whole-network    # also bfloat16 with fewer float32 blocks
    python benchmarks/precision.py --threads 1        # one core: steadier speeds on a shared machine
    python benchmarks/precision.py --write-docs       # also docs/benchmarks.md

The CPU's model and instruction sets are printed beside the table: the
speed-up of bfloat16 depends on them (native on AMX / AVX512_BF16).
"""

import argparse
import sys
import time
import warnings

import numpy as np

from _docs import print_and_write

PRECISIONS = ("float32", "bfloat16")


def family_exposures(size, n_exposures):
    """``(family, exposures)`` for every scored family of masks.py, then the two real frames."""
    from _real_frames import gmos_frame, saao_frame
    from masks import FAMILIES, build_family

    for family in FAMILIES:
        if family == "real_frames":
            yield "real: GMOS cutout", [gmos_frame()]
            yield "real: SAAO raw frame", [saao_frame()]
        else:
            yield family, build_family(family, size, n_exposures)


def model_input(cleaner, exposure):
    """What the benchmark's crclean contender passes: raw ADU for background-normalised models."""
    if cleaner.spec.normalisation == "background":
        return exposure.image_adu
    return np.asarray(exposure.image_adu, np.float32) - np.float32(exposure.bias)


def probabilities(cleaner, exposure):
    """``(probability, seconds)`` of one exposure."""
    data = model_input(cleaner, exposure)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        probability = cleaner.clean_array(data, units="adu", gain=exposure.gain, label="benchmark").probability
    return probability, time.perf_counter() - start


def compare(cleaners, exposures, threshold):
    """One row's figures per reduced precision, against float32, over ``exposures``."""
    from crclean._precision import masks_agree

    seconds = dict.fromkeys(cleaners, 0.0)
    maps = {name: [] for name in cleaners}
    for exposure in exposures:
        for name, cleaner in cleaners.items():  # interleaved: each exposure through every precision in turn
            probability, spent = probabilities(cleaner, exposure)
            maps[name].append(probability.ravel())
            seconds[name] += spent
    megapixels = sum(e.image_adu.size for e in exposures) / 1e6
    reference = np.concatenate(maps["float32"])
    rows = {}
    for name in cleaners:
        if name == "float32":
            continue
        agree, figures = masks_agree(reference, np.concatenate(maps[name]), threshold=threshold)
        rows[name] = dict(figures, agree=agree, s_per_mpix=seconds[name] / megapixels,
                          reference_s_per_mpix=seconds["float32"] / megapixels)
    return rows


def table(rows):
    lines = ["| family | precision | float32 mask px | flipped px | flipped share | largest flip margin | "
             "max prob. diff | within tolerance | s/Mpx float32 | s/Mpx | speed-up |", "|---|---|" + "---|" * 9]
    for family, name, r in rows:
        lines.append(f"| {family} | {name} | {r['flagged']} | {r['flipped']} | {r['flipped_share']:.2%} | "
                     f"{r['largest_flip_margin']:.3f} | {r['max_probability_difference']:.3f} | {'yes' if r['agree'] else 'NO'} | "
                     f"{r['reference_s_per_mpix']:.2f} | {r['s_per_mpix']:.2f} | "
                     f"{r['reference_s_per_mpix'] / r['s_per_mpix']:.2f}x |")
    return "\n".join(lines)


def build_cleaners(model, threshold, int8, calibration, whole_network=False):
    from crclean import Cleaner

    cleaners = {name: Cleaner(model, threshold=threshold, inpaint=None, device="cpu", precision=name).load()
                for name in PRECISIONS}
    if whole_network:
        if cleaners["bfloat16"].spec.float32_blocks:
            cleaners["bfloat16, input block only"] = bfloat16_with_float32(model, threshold, input_block=True)
        cleaners["bfloat16, whole network"] = bfloat16_with_float32(model, threshold, input_block=False)
    if int8:
        from _int8 import quantised_cleaner

        cleaners["int8"] = quantised_cleaner(model, threshold, calibration)
    return cleaners


def bfloat16_with_float32(model, threshold, *, input_block):
    """A bfloat16 `crclean.Cleaner` with fewer float32 blocks than crclean keeps.

    Only the input block if ``input_block``, otherwise none.
    """
    import torch

    from crclean import Cleaner
    from crclean.models._inference import keep_input_block_float32, prepare_for_inference
    from crclean.weights import load_network

    cleaner = Cleaner(model, threshold=threshold, inpaint=None, device="cpu", precision="bfloat16").load()
    # Prepared as for float32 (no float32 block); the masker still runs it under bfloat16 autocast.
    network, _ = prepare_for_inference(load_network(cleaner.spec), torch.device("cpu"))
    if input_block:
        keep_input_block_float32(network)
    cleaner._masker.network = network
    return cleaner


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="crclean-ccd")
    parser.add_argument("--size", type=int, default=1024, help="exposure side in pixels (simulated families)")
    parser.add_argument("--exposures", type=int, default=1, help="exposures per simulated family")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--int8", action="store_true", help="also evaluate int8 quantisation of the convolutions")
    parser.add_argument("--whole-network", action="store_true",
                        help="also bfloat16 with fewer blocks in float32 than crclean keeps")
    parser.add_argument("--threads", type=int, default=0, help="PyTorch threads (default: PyTorch's, one per core)")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    if args.size < 64 or args.exposures < 1:
        parser.error(f"--size must be >= 64 and --exposures >= 1, got {args.size} and {args.exposures}")
    import torch

    from crclean._precision import MASK_TOLERANCE, cpu_features, native_bfloat16

    if args.threads:
        torch.set_num_threads(args.threads)

    calibration = None
    if args.int8:
        from crclean.training.simulate import simulate_exposure

        # Calibrated on crclean's own simulator, a seed no family uses: the families stay unseen.
        calibration = simulate_exposure((args.size, args.size), seed=30_000_000, profile="ground_thin")
    cleaners = build_cleaners(args.model, args.threshold, args.int8, calibration, args.whole_network)
    rows = []
    for family, exposures in family_exposures(args.size, args.exposures):
        print(f"[precision] {family}", file=sys.stderr, flush=True)
        for name, figures in compare(cleaners, exposures, args.threshold).items():
            rows.append((family, name, figures))
    header = (f"CPU: {cpu_features().summary()}; PyTorch {torch.__version__} dispatch "
              f"{torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} thread(s); native bfloat16: "
              f"{'yes' if native_bfloat16() else 'no'}. Model {args.model}, threshold {args.threshold}; "
              f"{args.exposures} exposure(s) of {args.size}x{args.size} px per simulated family. Tolerance: at most "
              f"{MASK_TOLERANCE['flipped_share']:.1%} of the float32 mask's pixels flipped (at least 1 allowed), and "
              f"only pixels float32 put within {MASK_TOLERANCE['flip_margin']} of the threshold (largest flip "
              f"margin). Precisions interleaved "
              f"per exposure on a shared machine: compare the speed-up, not the seconds.")
    print_and_write("precision", "Reduced precision on the CPU: mask agreement and speed", "precision.py", argv,
                    header, table(rows), write_docs=args.write_docs)
    return rows


if __name__ == "__main__":
    main()
