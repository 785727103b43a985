"""Time and peak memory of filling NaN holes before the mask network sees a frame.

`crclean.engine._masker._fill_non_finite` gives non-finite pixels near data a
local median and deeper ones the nearest such value. Filling every pixel of a
wide hole with growing median windows (``masked_median`` alone, the earlier
fill) is timed beside it on the smaller frames; on larger ones it runs for
minutes and can exhaust memory. Each run is a fresh subprocess, so its peak
resident memory (``VmHWM``) is its own.

    python benchmarks/fill_holes.py
"""

import json
import subprocess
import sys

_RUN = """
import json, time
import numpy as np
from crclean.engine._masker import _fill_non_finite
from crclean.inpaint import masked_median
size, border, method = {size}, {border}, {method!r}
image = np.random.default_rng(0).normal(1000, 10, (size, size)).astype(np.float32)
image[:, :border] = np.nan
start = time.perf_counter()
filled = _fill_non_finite(image)[0] if method == "crclean" else masked_median(image, ~np.isfinite(image))
seconds = time.perf_counter() - start
peak = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0].split()[1]
print(json.dumps({{"seconds": seconds, "peak_mb": int(peak) / 1024, "finite": bool(np.isfinite(filled).all())}}))
"""

CASES = [(512, 25, "masked_median"), (512, 25, "crclean"), (1024, 50, "masked_median"), (1024, 50, "crclean"),
         (2048, 100, "crclean"), (4096, 200, "crclean")]


def main():
    print("| frame | NaN border (columns) | fill | seconds | peak memory (MB) | all filled |")
    print("|---|---|---|---|---|---|")
    for size, border, method in CASES:
        code = _RUN.format(size=size, border=border, method=method)
        result = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                           check=True).stdout)
        print(f"| {size} x {size} | {border} | {method} | {result['seconds']:.1f} | {result['peak_mb']:.0f} "
              f"| {result['finite']} |", flush=True)


if __name__ == "__main__":
    main()
