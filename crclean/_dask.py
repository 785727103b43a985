"""Run ``crclean mask`` over many files on a Dask cluster.

One task per file; each worker process builds its `Cleaner` (and loads the
model) once and reuses it for every file it is given. Results are written by
the workers to the same output names as a local run, and each file's outcome
comes back as a `crclean._batch.FileOutcome`, so failures are reported per
file with the same exit-status rules.

References
----------
Rocklin, M. 2015, "Dask: Parallel Computation with Blocked algorithms and
Task Scheduling", Proc. 14th Python in Science Conf.
"""

from crclean._batch import FileOutcome, clean_one
from crclean.exceptions import CrcleanError

__all__ = ["clean_on_dask"]

# Per worker process: Cleaner options -> loaded Cleaner.
_CLEANERS = {}


def _clean_on_worker(input_path, output_path, cleaner_options, file_options):
    from crclean.clean import Cleaner

    key = repr(sorted(cleaner_options.items()))
    if key not in _CLEANERS:
        _CLEANERS[key] = Cleaner(**cleaner_options, progress=False)
    return clean_one(_CLEANERS[key], input_path, output_path, **file_options)


def clean_on_dask(jobs, cleaner_options, *, scheduler=None, workers=None):
    """Clean files on a Dask cluster; yield one `FileOutcome` per file as each finishes.

    Parameters
    ----------
    jobs : list of (input_path, output_path, file_options)
        ``file_options`` go to `crclean._batch.clean_one`.
    cleaner_options : dict
        Keyword arguments of `crclean.Cleaner` (picklable values only).
    scheduler : str, optional
        Address of a running scheduler, e.g. ``tcp://10.0.0.5:8786``.
    workers : int, optional
        Without ``scheduler``: start a local cluster of this many
        single-threaded worker processes.

    Raises
    ------
    crclean.exceptions.CrcleanError
        If dask.distributed is missing or the scheduler cannot be reached.
    """
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise CrcleanError("--scheduler/--workers need dask.distributed: pip install 'crclean[dask]'") from None
    if scheduler is None and (workers is None or workers < 1):
        raise ValueError(f"workers must be a positive integer without a scheduler, got {workers!r}")
    cluster = None
    try:
        if scheduler is not None:
            client = Client(scheduler, timeout="10s")
        else:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            client = Client(cluster)
    except (OSError, TimeoutError) as error:
        if cluster is not None:
            cluster.close()
        raise CrcleanError(f"cannot reach the Dask scheduler at {scheduler}: {error}; "
                           "check the address and that the scheduler is running") from None
    try:
        futures = {client.submit(_clean_on_worker, str(source), str(target), cleaner_options, options,
                                 pure=False): str(source)
                   for source, target, options in jobs}
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as error:  # a worker died or the task broke: report, go on
                yield FileOutcome(futures[future], error=f"{futures[future]}: failed on a Dask worker: {error}")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
