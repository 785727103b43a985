"""End-to-end Mpix/s of `crclean mask` on a GPU (or the CPU): read, mask, inpaint, write, by precision.

Prepared for a lent GPU machine and runnable on the CPU with small shapes.
For each file (by default a 2k x 4k and a 4k x 4k exposure and a DECam-like
file of 62 CCDs of 2k x 4k) and each precision, the default model
(``--model auto``, i.e. ``crclean.weights.AUTO_MODELS``) cleans the file
through `crclean.Cleaner.clean_file` exactly as ``crclean mask`` does, after a
warm-up on a small file (model load and first-call kernels are not counted;
the start-up floor has its own script, ``benchmarks/startup.py``). Columns:

- Mpx/s end to end, with the reader and writer threads (the default) and,
  once per file with the first precision, without them (``overlap_io=False``);
- the share of FITS I/O: the same file through the same reader and writer
  with a masker that returns zeros and no inpainting (one thread), over the
  end-to-end time;
- mask agreement of each reduced precision with float32 on the file's first
  image (`crclean._precision.masks_agree`: flipped pixels, largest flip
  margin, largest probability difference, within the stated tolerance);
- peak GPU memory (``torch.cuda.max_memory_allocated``) and peak RSS.

Results go to ``--out`` (default ``$OUT`` when set, else ``./gpu_throughput``)
as ``results.json`` and ``results.md``, rewritten after every row so that a
run cut short by a time limit keeps what it measured, and are printed. The
single-image files run first, the many-extension file last (the longest:
crclean's normalisation and inpainting run on the host).

    python benchmarks/gpu_throughput.py                                   # on a GPU machine
    python benchmarks/gpu_throughput.py --device cpu --shapes 256x512 512x512 \\
        --extensions 3 --ext-shape 256x128 --precisions float32 bfloat16  # a quick check on the CPU
"""

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def parse_shape(text):
    """``'4096x2048'`` -> ``(4096, 2048)`` (rows x columns)."""
    try:
        rows, cols = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a shape is ROWSxCOLUMNS, e.g. 4096x2048, got {text!r}") from None
    if rows < 64 or cols < 64:
        raise argparse.ArgumentTypeError(f"each side must be at least 64 px, got {text!r}")
    return rows, cols


def fake_ccd(shape, rng):
    """A quick ground CCD frame in ADU: sky with Poisson noise, stars, short cosmic-ray tracks.

    Made with numpy alone (crclean's simulator takes seconds per 8 Mpx, too
    long for 62 CCDs); the speed of a mask network does not depend on the scene.
    """
    gain, sky = 4.0, 800.0
    image = rng.poisson(sky * gain, shape).astype(np.float32) / gain + 1000.0
    n_stars = int(shape[0] * shape[1] / 20_000)
    ys, xs = rng.integers(3, shape[0] - 3, n_stars), rng.integers(3, shape[1] - 3, n_stars)
    flux = rng.lognormal(8.0, 1.0, n_stars).astype(np.float32)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            np.add.at(image, (ys + dy, xs + dx), flux * np.float32(np.exp(-(dy * dy + dx * dx) / 2.0) / 6.3))
    n_hits = int(shape[0] * shape[1] / 4_000)
    ys, xs = rng.integers(0, shape[0] - 8, n_hits), rng.integers(0, shape[1] - 8, n_hits)
    for step in range(rng.integers(1, 8)):
        np.add.at(image, (ys + step // 2, xs + step), rng.uniform(200, 3000, n_hits).astype(np.float32))
    return image


def make_files(folder, shapes, n_extensions, ext_shape):
    from astropy.io import fits

    rng = np.random.default_rng(50_000_000)
    files = []
    for shape in shapes:
        path = folder / f"single_{shape[0]}x{shape[1]}.fits"
        header = fits.Header({"BUNIT": "ADU", "GAIN": 4.0, "RDNOISE": 7.0})
        fits.writeto(path, fake_ccd(shape, rng), header)
        files.append((f"{shape[1]} x {shape[0]}", path, shape[0] * shape[1]))
    if n_extensions:
        path = folder / f"decam_like_{n_extensions}.fits"
        with fits.open(path, mode="append") as out:  # written CCD by CCD, so memory holds one
            out.append(fits.PrimaryHDU(header=fits.Header({"TELESCOP": "CTIO 4.0-m telescope",
                                                           "INSTRUME": "DECam"})))
            out.flush()
        for ccd in range(1, n_extensions + 1):
            fits.append(path, fake_ccd(ext_shape, rng),
                        fits.Header({"EXTNAME": f"N{ccd}", "BUNIT": "ADU", "GAIN": 4.0, "RDNOISE": 7.0}))
        files.append((f"{n_extensions} x ({ext_shape[1]} x {ext_shape[0]}) MEF", path,
                      n_extensions * ext_shape[0] * ext_shape[1]))
    return files


class _Zeros:
    """A masker that finds nothing, instantly: what is left of the time is reading and writing."""

    spec = None

    def predict(self, data, **options):
        return np.zeros(np.shape(data), np.float32)


def timed_clean(cleaner, path, output, **options):
    import torch

    if output.exists():
        output.unlink()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    cleaner.clean_file(path, output, **options)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def first_image(path):
    from astropy.io import fits

    with fits.open(path) as hdul:
        return next(np.asarray(h.data, np.float32) for h in hdul if h.data is not None and h.data.ndim == 2)


def measure(args, files, folder):
    import torch

    from crclean import Cleaner
    from crclean._precision import masks_agree

    cleaners = {name: Cleaner(device=args.device, precision=name, batch_size=args.batch_size).load()
                for name in args.precisions}
    (folder / "warm").mkdir()
    warm = make_files(folder / "warm", [(256, 256)], 0, None)[0][1]
    io_only = Cleaner(args.model_for_io, inpaint=None, device="cpu")
    io_only._masker = _Zeros()
    rows = []
    for label, path, pixels in files:
        reference, sequential = None, None
        io_seconds = timed_clean(io_only, path, folder / "io.fits", overlap_io=False)
        for name, cleaner in cleaners.items():
            timed_clean(cleaner, warm, folder / "warm.fits")  # model loaded, kernels chosen
            if torch.cuda.is_available():
                torch.cuda.reset_peak_memory_stats()
            seconds = min(timed_clean(cleaner, path, folder / "out.fits") for _ in range(args.repeats))
            if sequential is None:  # once per file, with the reference precision: the overlap's effect
                sequential = timed_clean(cleaner, path, folder / "out.fits", overlap_io=False)
            probability = cleaner.clean_array(first_image(path)).probability
            row = {"file": label, "precision": name, "megapixels": pixels / 1e6,
                   "mpix_per_s": pixels / 1e6 / seconds, "seconds": seconds,
                   "mpix_per_s_sequential": pixels / 1e6 / sequential if reference is None else None,
                   "io_seconds": io_seconds, "io_share": io_seconds / seconds,
                   "gpu_peak_gb": (torch.cuda.max_memory_allocated() / 1e9) if torch.cuda.is_available() else None}
            if reference is None:
                reference = probability
            else:
                agree, figures = masks_agree(reference, probability)
                row.update(figures, agree=agree)
            rows.append(row)
            print(json.dumps(row), flush=True)
            # A run stopped by a time limit keeps what it measured.
            save(args.out, rows, f"{describe_machine(args.device)}; incomplete: the run did not finish")
    return rows


def save(out, rows, header):
    out = Path(out)
    (out / "results.json").write_text(json.dumps({"header": header, "rows": rows}, indent=1))
    (out / "results.md").write_text(f"{header}\n\n{table(rows)}\n")


def table(rows):
    lines = ["| file | precision | Mpx/s | Mpx/s without I/O threads | FITS I/O share | flipped px (of float32's) | "
             "largest flip margin | max prob. diff | within tolerance | GPU peak (GB) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        agreement = ("(reference)", "-", "-", "-") if "flipped" not in r else (
            f"{r['flipped']} ({r['flagged']})", f"{r['largest_flip_margin']:.3f}",
            f"{r['max_probability_difference']:.3f}", "yes" if r["agree"] else "NO")
        gpu = "-" if r["gpu_peak_gb"] is None else f"{r['gpu_peak_gb']:.2f}"
        sequential = "-" if r["mpix_per_s_sequential"] is None else f"{r['mpix_per_s_sequential']:.3g}"
        lines.append(f"| {r['file']} | {r['precision']} | {r['mpix_per_s']:.3g} | {sequential} | "
                     f"{r['io_share']:.0%} | " + " | ".join(agreement) + f" | {gpu} |")
    return "\n".join(lines)


def describe_machine(device):
    import torch

    from crclean._precision import cpu_features

    parts = [f"CPU: {cpu_features().summary()}, {os.cpu_count()} cores", f"PyTorch {torch.__version__}"]
    if device != "cpu" and torch.cuda.is_available():
        parts.append(f"GPU: {torch.cuda.get_device_name()}")
    return "; ".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--shapes", nargs="*", type=parse_shape, default=[(4096, 2048), (4096, 4096)],
                        metavar="ROWSxCOLS", help="single-image files (default 4096x2048 4096x4096)")
    parser.add_argument("--extensions", type=int, default=62, help="CCDs of the DECam-like file (0: none)")
    parser.add_argument("--ext-shape", type=parse_shape, default=(4096, 2048), metavar="ROWSxCOLS")
    parser.add_argument("--precisions", nargs="+", default=["float32", "float16", "bfloat16"],
                        choices=["float32", "float16", "bfloat16"], help="the first is the reference")
    parser.add_argument("--batch-size", type=int, default=None, help="tiles per forward pass [crclean's default]")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per file and precision (the fastest)")
    parser.add_argument("--out", default=os.environ.get("OUT") or "gpu_throughput", help="folder for the results")
    args = parser.parse_args(argv)
    args.model_for_io = "lacosmic"  # no weights to load; its masker is replaced by _Zeros
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda but PyTorch sees no GPU; use --device cpu with small --shapes to check the script")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        folder = Path(tmp)
        files = make_files(folder, args.shapes, args.extensions, args.ext_shape)
        print(f"[gpu_throughput] files made in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        rows = measure(args, files, folder)
    peak_rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    header = (f"{describe_machine(args.device)}; device {args.device}; model auto; batch size "
              f"{args.batch_size or 'default'}; fastest of {args.repeats} run(s); peak RSS of the whole script "
              f"{peak_rss_gb:.1f} GB; {time.perf_counter() - start:.0f} s in all.")
    text = table(rows)
    print(header)
    print(text)
    save(out, rows, header)
    return rows


if __name__ == "__main__":
    main()
