"""`crclean mask --workers N`: a batch through a local Dask cluster."""

import numpy as np
from astropy.io import fits
from click.testing import CliRunner

from crclean.cli import main
from crclean.weights import AUTO_MODELS


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
    # float32 named: the workers are other processes, which choose auto's precision from the real CPU
    # (bfloat16 on AMX CPUs), while this process's tests see one without native bfloat16 (conftest.py).
    result = CliRunner().invoke(main, ["mask", *map(str, paths), str(broken), "--workers", "2",
                                       "--outdir", str(outdir), "--precision", "float32"])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("crclean: error:")]
    assert len(errors) == 1 and "broken.fits" in errors[0]
    assert sorted(p.name for p in outdir.iterdir()) == [f"frame{i}_crclean.fits" for i in range(3)]
    # Same products as a local run.
    local = tmp_path / "local.fits"
    assert CliRunner().invoke(main, ["mask", str(paths[0]), "-o", str(local), "-q", "--precision", "float32"]
                              ).exit_code == 0
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
    # Workers run in other processes: they see the shipped mapping.
    assert fits.getheader(outdir / "space_crclean.fits")["CRMODEL"] == AUTO_MODELS["space"]
    assert fits.getheader(outdir / "ground_crclean.fits")["CRMODEL"] == AUTO_MODELS["ground"]
    assert (f"crclean: note: {space}: TELESCOP='JWST' INSTRUME='NIRCAM' -> space data, using "
            f"{AUTO_MODELS['space']}") in result.stderr
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


def test_lines_in_input_order_and_the_report_of_a_local_run(tmp_path):
    """The first file is the largest, so a worker finishes the others first; the lines and the report
    rows still come in input order, and the rows are a local run's (times aside)."""
    import json

    from synthetic import synthetic_exposure

    paths = []
    for seed, shape in enumerate([(512, 512), (64, 64), (64, 80), (80, 64)]):
        image, _ = synthetic_exposure(shape, seed=80 + seed)
        path = tmp_path / f"f{seed}.fits"
        fits.writeto(path, image)
        paths.append(str(path))
    broken = tmp_path / "broken.fits"
    broken.write_text("not FITS")
    paths.insert(2, str(broken))
    existing = tmp_path / "remote" / "f3_crclean.fits"
    existing.parent.mkdir()
    existing.write_bytes(b"done earlier")

    def rows(outdir, *extra):
        report = tmp_path / f"{outdir}.json"
        # float32 named for both runs, as in test_batch_on_a_local_cluster_with_a_broken_file.
        result = CliRunner().invoke(main, ["mask", *paths, "--outdir", str(tmp_path / outdir), "--skip-existing",
                                           "--report", str(report), "--precision", "float32", *extra])
        assert result.exit_code == 1, result.output
        lines = [line.split(" -> ")[0] for line in result.stdout.splitlines()]
        assert lines == [path for path in paths if path != str(broken)]
        table = json.loads(report.read_text())
        for row in table:
            row.pop("seconds")
            row["output"] = row["output"] and row["output"].replace(f"/{outdir}/", "/")
        return table

    remote = rows("remote", "--workers", "2")
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "f3_crclean.fits").write_bytes(b"done earlier")
    assert remote == rows("local")
    assert [row["status"] for row in remote] == ["done", "done", "failed", "done", "skipped"]
