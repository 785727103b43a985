"""SIGINT, SIGTERM and SIGHUP stop `crclean mask` cleanly; `--skip-existing` resumes the batch.

Each test runs crclean in a subprocess and sends the signal while an output is being written: it
waits until a finished output and the temporary file of an unfinished one are on disk.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from astropy.io import fits
from click.testing import CliRunner

from crclean.cli import main
from synthetic import synthetic_exposure

SUFFIX = "_crclean.fits"


def _default_signals():
    # A test run under nohup or as a background job would hand its ignored SIGHUP/SIGINT down.
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)


def frames(folder, count, shape, *, first_seed=0):
    folder.mkdir(exist_ok=True)
    paths = []
    for index in range(count):
        image, _ = synthetic_exposure(shape, seed=first_seed + index, n_stars=5, n_rays=20)
        path = folder / f"g{first_seed + index:02d}.fits"
        fits.writeto(path, image, fits.Header({"GAIN": 4.0}))
        paths.append(path)
    return paths


def in_flight(outdir):
    """Stems whose temporary file is on disk and whose output is not."""
    names = set(os.listdir(outdir)) if outdir.is_dir() else set()
    stems = {name[1:].split(".tmp-")[0] for name in names if name.startswith(".") and ".tmp-" in name}
    return {stem for stem in stems if f"{stem}.fits" not in names}


def run_and_signal(args, outdir, signum, *, after_outputs):
    """Start ``crclean ARGS``; once ``after_outputs`` outputs are finished and another is being
    written, send ``signum``. Returns (exit status, stdout, stderr, the stem that was in flight)."""
    process = subprocess.Popen([sys.executable, "-m", "crclean", *map(str, args)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, preexec_fn=_default_signals)
    deadline = time.monotonic() + 120
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"crclean finished before the signal was sent: {process.communicate()}")
            finished = len(list(outdir.glob(f"*{SUFFIX}"))) if outdir.is_dir() else 0
            writing = in_flight(outdir)
            if finished >= after_outputs and writing:
                process.send_signal(signum)
                break
            if time.monotonic() > deadline:
                pytest.fail("no output was being written within 120 s")
            time.sleep(0.002)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, stdout, stderr, writing.pop()


def check_outputs(outdir):
    """No temporary is left, and every output is a whole FITS file with its DQ; returns their names."""
    assert [name for name in os.listdir(outdir) if ".tmp-" in name] == []
    outputs = sorted(outdir.glob(f"*{SUFFIX}"))
    for path in outputs:
        with fits.open(path) as hdul:
            hdul.verify("exception")
            assert hdul["DQ"].data.shape == hdul[0].data.shape
            assert hdul[0].header["NCRPIX"] == ((hdul["DQ"].data & 8192) > 0).sum()
    return [path.name for path in outputs]


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
def test_signal_mid_write_leaves_finished_outputs_whole_and_no_temporary(tmp_path, signum, status):
    inputs = frames(tmp_path / "raw", 6, (512, 512))
    outdir = tmp_path / "out"
    report = tmp_path / "report.json"
    code, stdout, stderr, stem = run_and_signal(
        ["mask", *inputs, "--outdir", outdir, "--model", "crclean-ground", "--report", report],
        outdir, signum, after_outputs=1)
    name = signal.Signals(signum).name
    assert code == status, stderr
    outputs = check_outputs(outdir)
    assert 1 <= len(outputs) < 6 and f"{stem}.fits" not in outputs  # it landed mid-write
    assert stderr.splitlines()[-1] == (
        f"crclean: stopped by {name}: {len(outputs)} of 6 files done, 0 failed, {6 - len(outputs)} not processed; "
        "no partial output is left (re-run with --skip-existing to finish)")
    assert len(stdout.splitlines()) == len(outputs)  # one line per finished file
    rows = json.loads(report.read_text())
    assert [row["status"] for row in rows] == ["done"] * len(outputs) + ["failed"] * (6 - len(outputs))
    assert {row["message"] for row in rows[len(outputs):]} == {f"not processed: stopped by {name}"}


def test_sigterm_during_a_dask_run(tmp_path):
    """Workers are killed with the cluster: their temporaries go too, and the report matches the disk
    (a file a worker finished while the run was stopping is done, though its details never came back)."""
    inputs = frames(tmp_path / "raw", 6, (512, 512))
    outdir = tmp_path / "out"
    report = tmp_path / "report.json"
    code, _, stderr, _ = run_and_signal(
        ["mask", *inputs, "--outdir", outdir, "--model", "crclean-ground", "--workers", "2", "--report", report],
        outdir, signal.SIGTERM, after_outputs=1)
    assert code == 143, stderr
    outputs = check_outputs(outdir)
    rows = json.loads(report.read_text())
    done = sorted(f"{os.path.basename(row['input'])[:-5]}{SUFFIX}" for row in rows if row["status"] == "done")
    assert done == outputs and len(outputs) < 6
    assert stderr.splitlines()[-1].startswith(f"crclean: stopped by SIGTERM: {len(outputs)} of 6 files done")


def test_skip_existing_leaves_outputs_alone_and_exits_0(ground_fits, tmp_path):
    path, _ = ground_fits
    other = tmp_path / "other.fits"
    fits.writeto(other, fits.getdata(path)[::-1].copy(), fits.getheader(path))
    existing = tmp_path / "ground_crclean.fits"
    existing.write_bytes(b"left as it is")
    result = CliRunner().invoke(main, ["mask", str(path), str(other), "--skip-existing"])
    assert result.exit_code == 0, result.output
    assert existing.read_bytes() == b"left as it is"
    assert f"{path} -> {existing}: skipped, the output exists (--skip-existing)" in result.stdout
    assert result.stderr.splitlines()[-1] == "crclean: 1 of 2 files done, 1 skipped, 0 failed"
    assert fits.getheader(tmp_path / "other_crclean.fits")["NCRPIX"] > 0


def test_overwrite_with_skip_existing_is_a_usage_error(ground_fits):
    path, _ = ground_fits
    result = CliRunner().invoke(main, ["mask", str(path), "--overwrite", "--skip-existing"])
    assert result.exit_code == 2
    assert "use either --overwrite (replace existing outputs) or --skip-existing (keep them), not both" \
        in result.output
    assert not path.with_name("ground_crclean.fits").exists()


def test_batch_of_20_stopped_by_sigterm_and_resumed(tmp_path):
    """The issue's "done when": 20 mixed files (good, bad, outputs that exist), SIGTERM partway, then a
    re-run with --skip-existing of every file that did not fail on its own (as a pipeline reads it from the
    report): every good file is done once, nothing partial is on disk, and the re-run exits 0."""
    raw, outdir = tmp_path / "raw", tmp_path / "out"
    good = frames(raw, 17, (128, 160))
    not_fits, truncated, cube = raw / "notes.fits", raw / "truncated.fits", raw / "cube.fits"
    not_fits.write_text("not FITS")
    truncated.write_bytes(good[0].read_bytes()[:5000])
    fits.writeto(cube, np.zeros((3, 32, 32), np.float32))
    # The bad files come early, so that the first run reaches them before the signal.
    inputs = [good[0], not_fits, good[1], truncated, good[2], cube] + good[3:]
    assert len(inputs) == 20
    # Two outputs exist from an earlier run.
    earlier = CliRunner().invoke(main, ["mask", str(good[0]), str(good[5]), "--outdir", str(outdir), "-q"])
    assert earlier.exit_code == 0, earlier.output
    existing = {path.name: path.read_bytes() for path in outdir.iterdir()}

    options = ["--outdir", outdir, "--skip-existing", "--model", "crclean-ground"]
    code, _, stderr, _ = run_and_signal(["mask", *inputs, *options, "--report", tmp_path / "first.json"],
                                        outdir, signal.SIGTERM, after_outputs=len(existing) + 4)
    assert code == 143, stderr
    check_outputs(outdir)
    assert "crclean: stopped by SIGTERM:" in stderr.splitlines()[-1]
    first = json.loads((tmp_path / "first.json").read_text())
    assert [row["input"] for row in first] == list(map(str, inputs))
    status = {row["input"]: row["status"] for row in first}
    assert status[str(good[0])] == status[str(good[5])] == "skipped"
    assert status[str(not_fits)] == status[str(truncated)] == status[str(cube)] == "failed"
    stopped = [row["input"] for row in first if row["message"] == "not processed: stopped by SIGTERM"]
    assert stopped and str(good[-1]) in stopped
    after_first = {path.name: path.read_bytes() for path in outdir.glob(f"*{SUFFIX}")}

    again = [path for path in inputs if status[str(path)] != "failed" or str(path) in stopped]
    done = subprocess.run([sys.executable, "-m", "crclean", "mask", *map(str, again), *map(str, options),
                           "--report", str(tmp_path / "second.json")], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    outputs = check_outputs(outdir)
    assert outputs == sorted(f"{path.stem}_crclean.fits" for path in good)
    for name, content in after_first.items():  # skipped means untouched
        assert (outdir / name).read_bytes() == content
    second = {row["input"]: row["status"] for row in json.loads((tmp_path / "second.json").read_text())}
    done_first = {path for path, state in status.items() if state == "done"}
    done_second = {path for path, state in second.items() if state == "done"}
    assert done_first.isdisjoint(done_second)
    assert done_first | done_second | {str(good[0]), str(good[5])} == set(map(str, good))
    assert set(second.values()) == {"done", "skipped"}


def test_guard_raises_once_holds_on_request_and_restores_the_handlers():
    from crclean.cli._signals import Stopped, stop_on_signals

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Stopped) as stopped:
        with stop_on_signals():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler runs before this returns
    assert (stopped.value.name, stopped.value.exit_status, str(stopped.value)) == ("SIGTERM", 143, "stopped by SIGTERM")
    assert signal.getsignal(signal.SIGTERM) is before
    # Under nohup SIGHUP starts ignored, and crclean leaves an ignored signal ignored
    # (test_an_ignored_signal_stays_ignored): give it its default here.
    hangup = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        with stop_on_signals() as guard:
            guard.hold()
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.1)
            os.kill(os.getpid(), signal.SIGTERM)  # ignored after the first
            time.sleep(0.1)
    finally:
        signal.signal(signal.SIGHUP, hangup)
    assert guard.held.exit_status == 129


def test_an_ignored_signal_stays_ignored():
    from crclean.cli._signals import stop_on_signals

    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with stop_on_signals():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.1)
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)
