"""Start-up costs that batch users notice."""

import subprocess
import sys

import numpy as np
from astropy.io import fits
from click.testing import CliRunner

from crclean.cli import main


def _modules_after(args):
    code = ("import sys\nfrom click.testing import CliRunner\nfrom crclean.cli import main\n"
            f"result = CliRunner().invoke(main, {args!r})\nassert result.exit_code == 0, result.output\n"
            "print(sorted(m for m in ('torch', 'numpy', 'astropy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_help_imports_neither_torch_nor_numpy():
    assert _modules_after(["--help"]) == "[]"
    assert _modules_after(["mask", "--help"]) == "[]"


def test_models_listing_does_not_import_torch():
    assert "torch" not in _modules_after(["models"])


def test_a_batch_loads_the_model_once(tmp_path, monkeypatch):
    from crclean import weights

    calls = []
    real = weights.load_network
    monkeypatch.setattr(weights, "load_network", lambda *a, **k: calls.append(1) or real(*a, **k))
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        path = tmp_path / f"f{i}.fits"
        fits.writeto(path, rng.normal(100, 5, (64, 64)).astype(np.float32))
        paths.append(str(path))
    result = CliRunner().invoke(main, ["mask", *paths, "-q"])
    assert result.exit_code == 0, result.output
    assert len(calls) == 1
