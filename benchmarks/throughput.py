"""Throughput and peak memory of `crclean mask` against deepCR and Cosmic-CoNN.

Each measurement runs in a fresh subprocess, so its peak resident memory
(``VmHWM``) is its own, and every contender gets the same FITS file:

- a 2k x 4k and a 4k x 4k float32 exposure (simulated ground frames);
- a many-extension file (``--extensions`` images of 512 x 1024), to show
  whether memory grows with the number of extensions.

crclean is timed end to end as a user runs it (``crclean mask FILE -o OUT``:
reading, model load, inference, inpainting, writing), and again as
``crclean-array``: `crclean.Cleaner.clean_array` on the arrays after reading,
without inpainting, which is the same work deepCR and Cosmic-CoNN do here.
They have no FITS handling, so they are timed on the array after reading it,
with their own tiling (deepCR: 256 px patches without overlap; Cosmic-CoNN:
its default 1024 px crops), model load included. The gap between ``crclean``
and ``crclean-array`` is the share of FITS I/O and inpainting.

The CPU's model and instruction sets (AVX2, AVX-512, AVX512_BF16, AMX...)
are printed above the table and stored with it: crclean's default precision
follows them (bfloat16 where it is native), and so does every speed here.

    python benchmarks/throughput.py                 # prints the table
    python benchmarks/throughput.py --write-docs    # also docs/benchmarks.md
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _docs import write_section

# Runs inside the subprocess: does the work, prints {"seconds": ..., "rss_mb": ...}.
_CHILD = r"""
import json, sys, time
kind, path, out, extra = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
import torch
if int(sys.argv[5]):
    torch.set_num_threads(int(sys.argv[5]))
start = time.perf_counter()
if kind == "crclean":
    from click.testing import CliRunner
    from crclean.cli import main
    result = CliRunner().invoke(main, ["mask", path, "-o", out, "-q", "--overwrite", *extra])
    assert result.exit_code == 0, result.output
else:
    import numpy as np
    from astropy.io import fits
    with fits.open(path) as hdul:
        images = [h.data.astype(np.float32) for h in hdul if h.data is not None and h.data.ndim == 2]
    if kind == "crclean-array":
        from crclean import Cleaner
        cleaner = Cleaner(*extra, inpaint=None)
        for image in images:
            cleaner.clean_array(image)
    elif kind == "deepcr":
        from deepCR import deepCR
        model = deepCR(mask="decam", device="CPU")
        for image in images:
            model.clean(image, binary=False, segment=True, patch=256)
    elif kind == "cosmic-conn":
        import logging
        from cosmic_conn import init_model
        model = init_model("ground_imaging")
        logging.getLogger().setLevel(logging.WARNING)
        for image in images:
            model.detect_cr(image, ret_numpy=True)
seconds = time.perf_counter() - start
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent through
# fork and exec, so it would report the benchmark's own peak.
with open("/proc/self/status") as status:
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "rss_mb": peak_kb / 1024}))
"""


def make_files(folder, extensions):
    from astropy.io import fits

    from crclean.training.simulate import simulate_exposure

    files = {}
    for label, shape in (("2k x 4k", (4096, 2048)), ("4k x 4k", (4096, 4096))):
        exposure = simulate_exposure(shape, seed=40_000_000 + shape[1], profile="ground_thin", cr_rate=0.5)
        path = folder / f"{label.replace(' ', '')}.fits"
        fits.writeto(path, exposure.image_adu, fits.Header({"BUNIT": "ADU", "GAIN": exposure.gain}))
        files[label] = (path, shape[0] * shape[1])
    hdus = [fits.PrimaryHDU()]
    for i in range(extensions):
        exposure = simulate_exposure((1024, 512), seed=41_000_000 + i, profile="ground_thin", cr_rate=0.5)
        hdus.append(fits.ImageHDU(exposure.image_adu, name="SCI", ver=i + 1))
    path = folder / f"mef{extensions}.fits"
    fits.HDUList(hdus).writeto(path)
    files[f"{extensions} x (512 x 1024) MEF"] = (path, extensions * 1024 * 512)
    return files


def measure(kind, path, out, extra=(), threads=0):
    # OMP_NUM_THREADS as well as torch.set_num_threads: numpy and oneDNN read it.
    env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
    done = subprocess.run([sys.executable, "-c", _CHILD, kind, str(path), str(out), json.dumps(list(extra)),
                           str(threads)], capture_output=True, text=True, env=env)
    if done.returncode:
        return None, done.stderr.strip().splitlines()[-1] if done.stderr else "failed"
    return json.loads(done.stdout.strip().splitlines()[-1]), None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extensions", type=int, default=60)
    parser.add_argument("--contenders", nargs="*", default=["crclean", "crclean-array", "deepcr", "cosmic-conn"])
    parser.add_argument("--crclean-args", default="", help="extra options for crclean mask, e.g. '--model x'")
    parser.add_argument("--threads", type=int, default=0,
                        help="PyTorch/OpenMP threads per run (default: PyTorch's, one per core)")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    import torch

    from crclean._precision import cpu_features, resolve_precision
    from crclean.weights import AUTO_MODELS, get_model

    # What auto runs the default ground model in here (a model may not be cleared for bfloat16).
    default = get_model(AUTO_MODELS["ground"])
    precision = resolve_precision("auto", torch.device("cpu"), cpu_bfloat16=default.cpu_bfloat16)
    cpu = (f"CPU: {cpu_features().summary()}; PyTorch {torch.__version__} dispatch "
           f"{torch.backends.cpu.get_cpu_capability()}; `--precision auto` runs {default.name} in "
           f"{str(precision).removeprefix('torch.') if precision else 'float32'} here.")
    print(cpu, flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = make_files(folder, args.extensions)
        for label, (path, pixels) in files.items():
            for kind in args.contenders:
                extra = []
                if kind == "crclean":
                    extra = args.crclean_args.split()
                elif kind == "crclean-array" and "--model" in args.crclean_args.split():
                    options = args.crclean_args.split()
                    extra = [options[options.index("--model") + 1]]
                result, error = measure(kind, path, folder / "out.fits", extra, args.threads)
                if result is None:
                    rows.append(f"| {label} | {kind} | failed: {error} | | |")
                    continue
                rows.append(f"| {label} | {kind} | {pixels / 1e6 / result['seconds']:.3f} | "
                            f"{result['seconds']:.1f} | {result['rss_mb']:.0f} |")
                print(rows[-1], flush=True)
    header = (f"{cpu}\n\n{args.threads or torch.get_num_threads()} thread(s) per run "
              f"({subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores); "
              f"crclean options: `{args.crclean_args or 'defaults'}`.")
    table = "\n".join(["| image | tool | Mpx/s | seconds | peak RSS (MB) |", "|---|---|---|---|---|", *rows])
    print(header)
    print(table)
    if args.write_docs:
        command = "python benchmarks/throughput.py " + " ".join(argv if argv is not None else sys.argv[1:])
        key, title = "throughput", "Throughput and memory"
        if args.threads:
            key, title = f"throughput-{args.threads}t", f"{title}, {args.threads} thread(s) per run"
        write_section(key, title, command, f"{header}\n\n{table}")


if __name__ == "__main__":
    main()
