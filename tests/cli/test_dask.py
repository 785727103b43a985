"""`crclean mask --workers N`: a batch through a local Dask cluster."""

import numpy as np
from astropy.io import fits
from click.testing import CliRunner

from crclean.cli import main


def test_batch_on_a_local_cluster_with_a_broken_file(tmp_path):
    from synthetic import synthetic_exposure

    paths = []
    for seed in range(3):
        image, _ = synthetic_exposure((96, 128), seed=40 + seed)
        path = tmp_path / f"frame{seed}.fits"
        fits.writeto(path, image)
        paths.append(path)
    broken = tmp_path / "broken.fits"
    broken.write_text("SIMPLE  = nonsense")
    outdir = tmp_path / "out"
    result = CliRunner().invoke(main, ["mask", *map(str, paths), str(broken), "--workers", "2",
                                       "--outdir", str(outdir)])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("crclean: error:")]
    assert len(errors) == 1 and "broken.fits" in errors[0]
    assert sorted(p.name for p in outdir.iterdir()) == [f"frame{i}_crclean.fits" for i in range(3)]
    # Same products as a local run.
    local = tmp_path / "local.fits"
    assert CliRunner().invoke(main, ["mask", str(paths[0]), "-o", str(local), "-q"]).exit_code == 0
    with fits.open(outdir / "frame0_crclean.fits") as remote, fits.open(local) as here:
        np.testing.assert_array_equal(remote["DQ"].data, here["DQ"].data)
        np.testing.assert_array_equal(remote[0].data, here[0].data)


def test_auto_model_per_file_on_a_local_cluster(tmp_path):
    from synthetic import synthetic_exposure

    image, _ = synthetic_exposure((96, 128), seed=45)
    space, ground = tmp_path / "space.fits", tmp_path / "ground.fits"
    fits.writeto(space, image, fits.Header({"TELESCOP": "JWST", "INSTRUME": "NIRCAM"}))
    fits.writeto(ground, image, fits.Header({"TELESCOP": "Subaru", "INSTRUME": "Hyper Suprime-Cam"}))
    outdir = tmp_path / "out"
    result = CliRunner().invoke(main, ["mask", str(space), str(ground), "--workers", "1", "--outdir", str(outdir)])
    assert result.exit_code == 0, result.output
    assert fits.getheader(outdir / "space_crclean.fits")["CRMODEL"] == "crclean-space"
    assert fits.getheader(outdir / "ground_crclean.fits")["CRMODEL"] == "crclean-ground"
    assert f"crclean: note: {space}: TELESCOP='JWST' INSTRUME='NIRCAM' -> space data, using crclean-space" \
        in result.stderr
    assert f"crclean: note: {ground}: TELESCOP='Subaru' INSTRUME='Hyper Suprime-Cam': no space telescope" \
        in result.stderr


def test_unreachable_scheduler_is_one_clear_error(tmp_path):
    path = tmp_path / "a.fits"
    fits.writeto(path, np.zeros((32, 32), np.float32))
    result = CliRunner().invoke(main, ["mask", str(path), "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.output
    assert not (tmp_path / "a_crclean.fits").exists()


def test_scheduler_and_workers_together_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["mask", "x.fits", "--scheduler", "tcp://h:1", "--workers", "2"])
    assert result.exit_code == 2 and "not both" in result.output
