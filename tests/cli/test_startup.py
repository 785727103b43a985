"""Start-up costs that batch users notice."""

import subprocess
import sys
import textwrap

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


# Not needed to mask a small, finite image: each costs start-up time in every call of a shell loop.
_NOT_FOR_A_MASK = ("scipy", "photutils", "ccdproc", "reproject", "matplotlib", "dask", "distributed", "sympy",
                   "astropy.table", "astropy.wcs", "astropy.coordinates", "astropy.nddata", "astropy.stats",
                   "torch._dynamo", "torch._inductor", "crclean.training", "crclean.lenses._finder",
                   "crclean.models.rtdetr", "crclean.inpaint._learned", "crclean._dask")


def test_a_mask_run_imports_nothing_it_does_not_need(tmp_path):
    path = tmp_path / "small.fits"
    fits.writeto(path, np.random.default_rng(1).normal(100, 5, (64, 64)).astype(np.float32))
    args = ["mask", str(path), "-o", str(tmp_path / "out.fits"), "-q"]
    code = ("import sys\nfrom click.testing import CliRunner\nfrom crclean.cli import main\n"
            f"result = CliRunner().invoke(main, {args!r})\nassert result.exit_code == 0, result.output\n"
            f"print(' '.join(m for m in {_NOT_FOR_A_MASK!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == []
    assert (tmp_path / "out.fits").exists()


def _run_program(args, tmp_path):
    """``crclean ARGS`` through `crclean.cli.run`, with an exit function registered before it, in a subprocess."""
    code = textwrap.dedent(f"""
        import atexit, sys
        atexit.register(print, "exit function ran")
        sys.argv = ["crclean", *{list(map(str, args))!r}]
        from crclean.cli import run
        run()
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)


def test_the_program_keeps_exit_status_output_and_exit_functions(tmp_path):
    path = tmp_path / "small.fits"
    fits.writeto(path, np.random.default_rng(1).normal(100, 5, (64, 64)).astype(np.float32))
    done = _run_program(["mask", path, "-o", tmp_path / "out.fits"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith(f"{path} -> {tmp_path / 'out.fits'}: ")
    assert done.stdout.splitlines()[-1] == "exit function ran"
    with fits.open(tmp_path / "out.fits") as hdul:
        assert hdul["DQ"].data.shape == (64, 64)

    again = _run_program(["mask", path, "-o", tmp_path / "out.fits", "-q"], tmp_path)
    assert again.returncode == 1
    assert f"crclean: error: {tmp_path / 'out.fits'} exists; pass --overwrite to replace it" in again.stderr
    assert again.stdout == "exit function ran\n"

    usage = _run_program(["mask"], tmp_path)
    assert usage.returncode == 2
    assert "Error: no INPUT given; pass FITS paths, or - to read them from stdin" in usage.stderr
    assert usage.stdout == "exit function ran\n"
