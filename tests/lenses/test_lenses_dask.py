"""`crclean lenses --scheduler/--workers`: tiles searched on a Dask cluster, catalogue assembled here."""

import pickle
import sys

import pytest
from astropy.io import fits
from astropy.table import Table
from click.testing import CliRunner
from lens_fixtures import BlobDetector, blob_image, tan_wcs

from crclean.cli import main
from crclean.lenses._manifest import DEFAULT_LENS_MODEL, get_lens_model


@pytest.fixture
def tiles(tmp_path):
    """Three tiles (the first the largest, so it finishes last) and one file that is not FITS."""
    paths = []
    for number, (shape, blobs) in enumerate([((300, 280), [(60.0, 70.0), (200.0, 220.0), (150.0, 40.0)]),
                                             ((120, 140), [(70.0, 60.0)]),
                                             ((140, 120), [(40.0, 50.0), (90.0, 100.0)])]):
        path = tmp_path / f"tile{number}.fits"
        fits.PrimaryHDU(blob_image(shape, blobs, seed=number), tan_wcs(shape, 0.2).to_header()).writeto(path)
        paths.append(path)
    broken = tmp_path / "broken.fits"
    broken.write_text("SIMPLE  = nonsense")
    return [paths[0], broken, paths[1], paths[2]]


@pytest.fixture
def network_loads(monkeypatch):
    """Stand-in weights; counts how often a network is loaded. Workers' cached finders are dropped after."""
    from crclean import _dask

    loads = []
    monkeypatch.setattr("crclean.lenses._finder.load_lens_network",
                        lambda spec, device: loads.append(device) or BlobDetector())
    yield loads
    _dask._RESOURCES.clear()


@pytest.fixture
def scheduler_address():
    """An in-process cluster: its workers see the test's stand-in weights.

    One at a time: a second scheduler would warn that port 8787 is taken.
    """
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def _run(args):
    return CliRunner().invoke(main, ["lenses", *map(str, args)], catch_exceptions=False)


def _products(folder, stem):
    return {"catalogue": (folder / f"{stem}.ecsv").read_text(), "regions": (folder / f"{stem}.reg").read_text(),
            "cutouts": {p.name: p.read_bytes() for p in sorted((folder / f"{stem}_cuts").iterdir())}}


def test_catalogue_from_a_running_cluster_equals_a_local_run(tmp_path, tiles, scheduler_address, network_loads):
    outputs = ["-o", tmp_path / "{}.ecsv", "--regions", tmp_path / "{}.reg", "--cutouts", tmp_path / "{}_cuts"]
    local = _run([*tiles, *(str(a).format("local") for a in outputs), "-q"])
    assert local.exit_code == 1, local.output
    assert network_loads == ["cpu"]
    network_loads.clear()

    remote = _run([*tiles, *(str(a).format("remote") for a in outputs), "--scheduler", scheduler_address])
    assert remote.exit_code == 1, remote.output
    errors = [line for line in remote.stderr.splitlines() if line.startswith("crclean: error:")]
    assert len(errors) == 1 and errors[0].startswith(f"crclean: error: {tiles[1]} is not a readable FITS file")
    assert errors == [line for line in local.stderr.splitlines() if line.startswith("crclean: error:")]
    # Per-file lines in input order, although the first tile finishes last.
    summaries = [line.split(":")[0] for line in remote.stderr.splitlines() if "candidate(s)" in line]
    assert summaries == [str(tiles[0]), str(tiles[2]), str(tiles[3])]
    assert "crclean: 3 of 4 tiles searched, 1 failed" in remote.stderr
    assert network_loads == ["cpu"]  # once for the in-process workers, never in the client

    assert _products(tmp_path, "remote") == _products(tmp_path, "local")
    catalogue = Table.read(tmp_path / "remote.ecsv")
    assert list(catalogue["id"]) == list(range(1, 7))
    assert list(catalogue["tile"]) == [str(tiles[0])] * 3 + [str(tiles[2])] + [str(tiles[3])] * 2


def test_local_workers_start_and_stop_their_own_cluster(tmp_path, tiles, network_loads, monkeypatch):
    import distributed

    started = []

    class InProcessCluster(distributed.LocalCluster):
        """--workers starts worker processes; in-process threads see the stand-in weights."""

        def __init__(self, **options):
            started.append(options)
            super().__init__(**dict(options, processes=False))

    monkeypatch.setattr(distributed, "LocalCluster", InProcessCluster)
    result = _run([tiles[2], tiles[3], "-o", tmp_path / "cat.fits", "--workers", "2", "-q"])
    assert result.exit_code == 0, result.output
    assert [(o["n_workers"], o["threads_per_worker"], o["processes"]) for o in started] == [(2, 1, True)]
    assert len(Table.read(tmp_path / "cat.fits")) == 3


def test_missing_weights_on_the_workers_fail_each_file(tmp_path, tiles, scheduler_address, monkeypatch):
    from crclean import _dask

    monkeypatch.setattr("crclean.weights.SHIPPED_WEIGHTS_DIR", tmp_path / "empty")
    result = _run([tiles[2], tiles[3], "-o", tmp_path / "cat.ecsv", "--scheduler", scheduler_address, "-q"])
    _dask._RESOURCES.clear()
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("crclean: error:")]
    missing = tmp_path / "empty" / get_lens_model(DEFAULT_LENS_MODEL).resource
    assert errors == [f"crclean: error: {tile}: the Dask worker could not load the model: weights of lens model "
                      f"'{DEFAULT_LENS_MODEL}' not found at {missing}; reinstall crclean" for tile in tiles[2:]]
    assert not (tmp_path / "cat.ecsv").exists()


def test_what_comes_back_from_a_worker_is_small(tiles, network_loads):
    from crclean.lenses._batch import load_finder, search_tile

    finder = load_finder(model="rtdetr-lens-v9", conf=0.9, device="cpu")
    found = search_tile(finder, tiles[0])
    assert len(pickle.dumps(found)) < fits.getdata(tiles[0]).nbytes / 20  # the rows, not the tile's pixels
    with_cutouts = pickle.loads(pickle.dumps(search_tile(finder, tiles[0], cutouts=True)))
    assert [t.shape for t in with_cutouts.report.thumbnails] == [(96, 96, 3)] * 3
    assert all(with_cutouts.report.tables[0] == found.report.tables[0])


def test_without_dask_installed_is_one_clear_error(tmp_path, tiles, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    result = _run([tiles[2], "-o", tmp_path / "cat.ecsv", "--workers", "2"])
    assert result.exit_code == 1
    assert "crclean: error: --scheduler/--workers need dask.distributed: pip install 'crclean[dask]'" in result.output
    assert not (tmp_path / "cat.ecsv").exists()


def test_scheduler_and_workers_together_is_a_usage_error(tiles):
    result = _run([tiles[2], "--scheduler", "tcp://h:1", "--workers", "2"])
    assert result.exit_code == 2
    assert "use either --scheduler (a running cluster) or --workers (a local one), not both" in result.output


def test_lenses_help_imports_neither_dask_nor_torch():
    import subprocess

    code = ("import sys\nfrom click.testing import CliRunner\nfrom crclean.cli import main\n"
            "assert CliRunner().invoke(main, ['lenses', '--help']).exit_code == 0\n"
            "print(sorted(m for m in ('distributed', 'torch', 'numpy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
