"""The bookkeeping of one ``crclean mask`` batch: outputs planned, per-file lines, summary, report rows."""

import click

from crclean.cli._options import CommandError, echo_warnings
from crclean.exceptions import CrcleanError

__all__ = ["Batch", "check_report"]


def check_report(path):
    """``--report FILE`` checked before any work: a bad ending is a usage error, an unwritable folder an error."""
    from crclean._report import check_report_path

    try:
        return check_report_path(path)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--report'") from None
    except CrcleanError as error:
        raise CommandError(str(error)) from None


class Batch:
    """The files of one run, in input order, and what happened to each.

    Parameters
    ----------
    paths : list of str
        The inputs, in the order given.
    threshold : float
        The run's threshold, for the report.
    grow_threshold : float, optional
        The run's ``--grow-threshold``, for the report; None when masks are not grown.
    star_check : bool, optional
        Whether the run takes back flags on stars like the frame's others (``--star-check``), for the report.
    axis_tracks : bool, optional
        Whether the run searches for long tracks along the axes (``--axis-tracks``), for the report.
    """

    def __init__(self, paths, *, threshold, grow_threshold=None, star_check=None, axis_tracks=None):
        self.paths = list(paths)
        self.threshold = threshold
        self.grow_threshold = grow_threshold
        self.star_check, self.axis_tracks = star_check, axis_tracks
        self.targets = {}  # input index -> (input, output), for the inputs that got an output
        self._existed = set()  # input indices whose output existed before the run
        self.outcomes = {}  # input index -> FileOutcome, once known
        self.failures = 0
        self.stopped = None  # the Stopped signal, if one came
        self._seen_warnings = set()

    def plan(self, *, output, outdir, suffix):
        """Map every input to its output first, so that a clash fails before any work."""
        from crclean._batch import FileOutcome
        from crclean.io import output_path_for

        claimed = {}
        for index, path in enumerate(self.paths):
            try:
                target = output_path_for(path, output=output, outdir=outdir, suffix=suffix)
                key = target.resolve()
                if key in claimed:
                    raise CrcleanError(f"{path}: its output {target} is also the output of {claimed[key]}; "
                                       "use distinct names or --suffix")
                claimed[key] = path
                self.targets[index] = (path, target)
                if target.exists():
                    self._existed.add(index)
            except CrcleanError as error:
                click.echo(f"crclean: error: {error}", err=True)
                self.outcomes[index] = FileOutcome(str(path), error=str(error))
                self.failures += 1

    def run(self, outcomes, *, quiet):
        """Take the outcomes of the planned files, in their order, echoing a line for each as it comes."""
        # Outcomes first: zip then exhausts them, which closes a Dask cluster at once.
        for outcome, index in zip(outcomes, self.targets):
            if outcome.output_path is None:  # a Dask worker that died does not say
                outcome.output_path = str(self.targets[index][1])
            self.outcomes[index] = outcome
            _echo_outcome(outcome, self._seen_warnings, quiet)
            self.failures += outcome.status == "failed"

    def stop(self, stopped):
        """Note the signal and remove what unfinished files may have left (a killed Dask worker's temporaries).

        An output that appeared although its outcome never came back (a Dask worker finished it while
        the run was stopping) is whole, since outputs are renamed into place: it counts as done.
        """
        from crclean._batch import FileOutcome
        from crclean.io._paths import remove_temporaries

        self.stopped = stopped
        for index, (path, target) in self.targets.items():
            if index in self.outcomes:
                continue
            remove_temporaries(target)
            if index not in self._existed and target.exists():
                self.outcomes[index] = FileOutcome(str(path), output_path=str(target))

    def count(self, status):
        return sum(outcome.status == status for outcome in self.outcomes.values())

    def summarise(self, *, quiet):
        """The last line on stderr: always after a signal, else for a batch of several files unless quiet."""
        total, skipped = len(self.paths), self.count("skipped")
        done, failed = self.count("done"), self.count("failed")
        counts = f"{done} of {total} files done, " + (f"{skipped} skipped, " if skipped else "") + f"{failed} failed"
        if self.stopped is not None:
            left = total - len(self.outcomes)
            click.echo(f"crclean: {self.stopped}: {counts}, {left} not processed; no partial output is left "
                       "(re-run with --skip-existing to finish)", err=True)
        elif total > 1 and not quiet:
            click.echo(f"crclean: {counts}", err=True)

    def rows(self, *, reason):
        """Report rows in input order; files never reached are failed rows that give ``reason``."""
        from crclean._report import outcome_rows, unprocessed_row

        rows = []
        for index, path in enumerate(self.paths):
            if index in self.outcomes:
                rows += outcome_rows(self.outcomes[index], threshold=self.threshold, **self._steps())
            else:
                rows.append(unprocessed_row(path, self.targets[index][1], threshold=self.threshold, reason=reason,
                                            **self._steps()))
        return rows

    def _steps(self):
        """The run's steps after the network, as the report records them."""
        return dict(grow_threshold=self.grow_threshold, star_check=self.star_check, axis_tracks=self.axis_tracks)


def _echo_outcome(outcome, seen_warnings, quiet):
    """Echo one file's model note (--model auto), warnings (each text once per run), error or summary line."""
    report = outcome.report
    if report is not None and report.data_kind is not None and not quiet:
        click.echo(f"crclean: note: {outcome.input_path}: {report.data_kind.reason} -> {report.data_kind.kind} "
                   f"data, using {report.model} (override with --model)", err=True)
    echo_warnings(outcome.warnings, seen_warnings)
    if outcome.error is not None:
        click.echo(f"crclean: error: {outcome.error}", err=True)
    elif quiet:
        return
    elif outcome.skipped:
        click.echo(f"{outcome.input_path} -> {outcome.output_path}: skipped, the output exists (--skip-existing)")
    else:
        share = 100.0 * report.n_flagged / max(report.n_pixels, 1)
        extra = f" + {report.quicklook_path.name}" if report.quicklook_path else ""
        click.echo(f"{outcome.input_path} -> {report.output_path}{extra}: {report.n_flagged} pixels "
                   f"flagged ({share:.3f}%) in {len(report.planes)} image(s) by {report.model}, "
                   f"{report.seconds:.1f} s")
