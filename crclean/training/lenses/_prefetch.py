"""Training batches composed ahead in worker processes (``batch_workers`` in a lens config).

On a GPU the network's step takes less time than composing its 16 windows
on one CPU core (pasting, PSF convolution and noise per band), so the GPU
waits. Each batch is seeded by ``(seed, step)`` alone, so workers can
compose future steps in any order and the run sees exactly the batches of a
run without workers. Workers are spawned (not forked), so a parent that has
already started CUDA is safe, and at most ``2 * workers`` batches wait at
any time, so fast workers cannot fill the memory.
"""

from collections import deque

__all__ = ["BatchStream"]

_STATE = {}


def _start_worker(bank, config, negative_weights):
    import torch

    torch.set_num_threads(1)  # one core per worker; the workers are the parallelism
    _STATE.update(bank=bank, config=config, negative_weights=negative_weights)


def _compose(step):
    from crclean.training.lenses._train import _batch

    images, targets = _batch(_STATE["config"]["seed"], step, _STATE["bank"], _STATE["config"],
                             _STATE["negative_weights"])
    return images.numpy(), [{key: value.numpy() for key, value in target.items()} for target in targets]


class BatchStream:
    """The batches of steps ``start``, ``start + 1``, ... as ``(images, targets)`` tensors on the CPU.

    Parameters
    ----------
    bank : StampBank
    config : dict
        A loaded lens config (its ``seed``, ``batch_size``, ``window`` and scene options).
    negative_weights : numpy.ndarray or None
        Hard-negative mining weights, as `compose_scene` takes them.
    start : int
        The first step.
    workers : int
        Processes composing ahead; 0 composes each batch in this process when asked, as runs always did.
    """

    def __init__(self, bank, config, negative_weights, *, start, workers):
        self.step, self.workers = start, workers
        self.bank, self.config, self.negative_weights = bank, config, negative_weights
        self.pool, self.pending = None, deque()
        if workers:
            import multiprocessing

            self.pool = multiprocessing.get_context("spawn").Pool(
                workers, initializer=_start_worker, initargs=(bank, config, negative_weights))
            self.next_submitted = start

    def __iter__(self):
        return self

    def __next__(self):
        import torch

        from crclean.training.lenses._train import _batch

        if self.pool is None:
            batch = _batch(self.config["seed"], self.step, self.bank, self.config, self.negative_weights)
            self.step += 1
            return batch
        while len(self.pending) < 2 * self.workers and self.next_submitted < self.config["steps"]:
            self.pending.append(self.pool.apply_async(_compose, (self.next_submitted,)))
            self.next_submitted += 1
        if not self.pending:
            raise StopIteration
        images, targets = self.pending.popleft().get()
        self.step += 1
        return torch.from_numpy(images), [{key: torch.from_numpy(value) for key, value in target.items()}
                                          for target in targets]

    def close(self):
        """Stop the workers (batches composed ahead are dropped)."""
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
