"""The per-call floor of `crclean mask`: a whole CLI call on a 64 x 64 image, as a shell loop pays it.

Each call is a fresh ``python -m crclean mask small.fits -o out.fits -q
--overwrite`` process, timed from the outside (interpreter start, imports,
model load and verification, the one tile, inpainting, writing). With
``--baseline REF`` the same calls run on crclean as it was at git commit REF
(exported with ``git archive``; nothing in the working tree changes),
interleaved call by call with the working tree's, so that a busy neighbour
slows both alike. Then one in-process run splits the working tree's call into
phases. Python keeps compiled bytecode for every call (in a scratch
``PYTHONPYCACHEPREFIX``, after one warm-up call per variant), as an installed
package has it, even where ``PYTHONDONTWRITEBYTECODE`` is set.

    python benchmarks/startup.py                         # this tree, 10 calls
    python benchmarks/startup.py --baseline 3b55955      # before/after, interleaved
    python benchmarks/startup.py --baseline 3b55955 --write-docs
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _docs import print_and_write

ROOT = Path(__file__).resolve().parent.parent

# Runs in a fresh process on the working tree: the call's phases, in seconds.
_PHASES = r"""
import json, sys, time
marks = [time.perf_counter()]
import torch
marks.append(time.perf_counter())
from crclean.cli import main
from crclean.clean import Cleaner
import astropy.io.fits
marks.append(time.perf_counter())
cleaner = Cleaner(device="cpu").load()
marks.append(time.perf_counter())
cleaner.clean_file(sys.argv[1], sys.argv[2], overwrite=True)
marks.append(time.perf_counter())
cleaner.clean_file(sys.argv[1], sys.argv[2], overwrite=True)
marks.append(time.perf_counter())
names = ["import torch", "import crclean, astropy", "Cleaner.load (weights verified)",
         "first file (model load, first tile, write)", "second file, same process"]
print(json.dumps(dict(zip(names, [b - a for a, b in zip(marks, marks[1:])]))))
"""


def small_image(folder):
    import numpy as np
    from astropy.io import fits

    path = folder / "small.fits"
    rng = np.random.default_rng(64)
    image = rng.normal(1000.0, 10.0, (64, 64)).astype(np.float32)
    image[rng.integers(0, 64, 5), rng.integers(0, 64, 5)] += 2000.0
    fits.writeto(path, image)
    return path


def export(ref, folder):
    """crclean's tree at git ``ref``, unpacked under ``folder``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def environment(pythonpath, threads, pycache):
    """The calls' environment: compiled bytecode kept (in ``pycache``), as an installed crclean has it."""
    env = dict(os.environ, PYTHONPATH=str(pythonpath), PYTHONPYCACHEPREFIX=str(pycache))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def one_call(pythonpath, image, output, threads, pycache):
    env = environment(pythonpath, threads, pycache)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "crclean", "mask", str(image), "-o", str(output), "-q", "--overwrite"],
                   env=env, check=True, cwd=str(pythonpath))
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10, help="calls per variant")
    parser.add_argument("--baseline", metavar="REF", help="also time crclean at this git commit, interleaved")
    parser.add_argument("--threads", type=int, default=0, help="OMP_NUM_THREADS per call (default: PyTorch's)")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from crclean._precision import cpu_features

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        image = small_image(folder)
        variants = {"this tree": ROOT}
        if args.baseline:
            variants = {f"git {args.baseline}": export(args.baseline, Path(tempfile.mkdtemp(dir=tmp))), **variants}
        seconds = {name: [] for name in variants}
        pycache = folder / "pycache"
        for name, tree in variants.items():  # one call each first: disk caches, .pyc files
            one_call(tree, image, folder / "out.fits", args.threads, pycache)
        for _ in range(args.calls):
            for name, tree in variants.items():
                seconds[name].append(one_call(tree, image, folder / "out.fits", args.threads, pycache))
        env = environment(ROOT, args.threads, pycache)
        done = subprocess.run([sys.executable, "-c", _PHASES, str(image), str(folder / "phases.fits")],
                              capture_output=True, text=True, env=env, check=True)
        phases = json.loads(done.stdout.strip().splitlines()[-1])
    load = os.getloadavg()[0]
    header = (f"CPU: {cpu_features().summary()}; {os.cpu_count()} cores, load average {load:.1f} at the end; "
              f"threads: {args.threads or 'PyTorch default'}; {args.calls} calls per variant, interleaved.")
    lines = ["| crclean | median s per call | fastest | slowest |", "|---|---|---|---|"]
    for name, values in seconds.items():
        lines.append(f"| {name} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} |")
    lines += ["", "| phase (this tree, in one process) | seconds |", "|---|---|"]
    lines += [f"| {name} | {value:.3f} |" for name, value in phases.items()]
    print_and_write("startup", "Start-up: one call on a 64 x 64 image", "startup.py", argv, header, "\n".join(lines),
                    write_docs=args.write_docs)


if __name__ == "__main__":
    main()
