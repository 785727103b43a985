"""Run a per-file task of crclean over many files on a Dask cluster.

One task per file. Only the file's path and plain options go to a worker;
each worker process builds the expensive part (a `Cleaner` for ``crclean
mask``, a `LensFinder` for ``crclean lenses``: the model) once, keeps it, and
reuses it for every file it is given. Each file's outcome comes back as a
`crclean._batch.FileOutcome`, so failures are reported per file with the
same exit-status rules as a local run.

References
----------
Rocklin, M. 2015, "Dask: Parallel Computation with Blocked algorithms and
Task Scheduling", Proc. 14th Python in Science Conf.
"""

import threading

from crclean._batch import FileOutcome, clean_one
from crclean.exceptions import CrcleanError

__all__ = ["clean_on_dask", "run_on_dask"]

# Per worker process: (setup function, its options) -> what it built. The lock
# keeps threads of one worker from loading the same model twice.
_RESOURCES = {}
_RESOURCES_LOCK = threading.Lock()


def _resource(setup, setup_options):
    key = (setup.__module__, setup.__qualname__, repr(sorted(setup_options.items())))
    with _RESOURCES_LOCK:
        if key not in _RESOURCES:
            _RESOURCES[key] = setup(**setup_options)
        return _RESOURCES[key]


def _run_on_worker(task, setup, setup_options, input_path, task_options):
    try:
        resource = _resource(setup, setup_options)
    except (CrcleanError, ValueError, OSError) as error:
        return FileOutcome(input_path, error=f"{input_path}: the Dask worker could not load the model: {error}")
    return task(resource, input_path, **task_options)


def run_on_dask(task, jobs, *, setup, setup_options, scheduler=None, workers=None, ordered=False):
    """Run ``task(resource, input_path, **options)`` per file on a Dask cluster; yield a `FileOutcome` per file.

    Parameters
    ----------
    task : callable
        ``task(resource, input_path, **options) -> FileOutcome``; it must not
        raise for a bad file. A module-level function (workers import it by name).
    jobs : list of (input_path, options)
        ``options`` is a dict of picklable keyword arguments of ``task``.
    setup : callable
        ``setup(**setup_options)`` builds ``resource`` (e.g. loads a model); a
        module-level function, run once per worker process for each distinct
        ``setup_options`` and kept there, so the model never crosses the network.
    setup_options : dict
        Picklable keyword arguments of ``setup``.
    scheduler : str, optional
        Address of a running scheduler, e.g. ``tcp://10.0.0.5:8786``.
    workers : int, optional
        Without ``scheduler``: start a local cluster of this many
        single-threaded worker processes (closed at the end).
    ordered : bool, optional
        Yield outcomes in the order of ``jobs`` (each as soon as it and those
        before it are done) rather than as they finish.

    Yields
    ------
    FileOutcome
        One per job. A task that broke on the worker (or a worker that died)
        gives an outcome with ``error`` set; a ``setup`` that fails with a
        crclean, value or OS error fails each file it was needed for.

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
        # A dict keeps submission order; pure=False makes a repeated path its own task.
        futures = {client.submit(_run_on_worker, task, setup, setup_options, str(input_path), options,
                                 pure=False): str(input_path)
                   for input_path, options in jobs}
        for future in (iter(futures) if ordered else as_completed(futures)):
            try:
                yield future.result()
            except Exception as error:  # a worker died or the task broke: report, go on
                yield FileOutcome(futures[future], error=f"{futures[future]}: failed on a Dask worker: {error}")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _new_cleaner(**cleaner_options):
    from crclean.clean import Cleaner

    return Cleaner(**cleaner_options, progress=False)


def clean_on_dask(jobs, cleaner_options, *, scheduler=None, workers=None):
    """Clean files on a Dask cluster; yield one `FileOutcome` per file, in the order of ``jobs``.

    Each outcome comes as soon as its file and those before it are done, so
    a batch's per-file lines read as a local run's.

    Parameters
    ----------
    jobs : list of (input_path, output_path, file_options)
        ``file_options`` go to `crclean._batch.clean_one` (``skip_existing``,
        ``trim``... included).
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
    file_jobs = [(source, dict(options, output_path=str(target))) for source, target, options in jobs]
    return run_on_dask(clean_one, file_jobs, setup=_new_cleaner, setup_options=cleaner_options,
                       scheduler=scheduler, workers=workers, ordered=True)
