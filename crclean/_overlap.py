"""Read the next image and write the last one while the network works on this one.

A file's images go through three stages: read (and decompress), compute
(mask and inpaint), write. `run_overlapped` runs the reading of image k + 1
and the writing of image k - 1 in two background threads while the calling
thread computes image k. PyTorch, zlib and file I/O release the GIL, so the
stages do overlap; each thread holds at most one image, so memory stays
bounded by three images' worth whatever the number of extensions.

The outcome is the sequential one: the same calls in the same order per
stage, and on failure the error that the sequential loop would have raised
(an earlier image's write error before a later image's read or compute
error). Nothing more is started after a failure; the one read or write in
flight finishes before the error leaves `run_overlapped`.
"""

from concurrent.futures import ThreadPoolExecutor

__all__ = ["run_overlapped"]


def run_overlapped(items, read, compute, write, *, overlap=True):
    """``write(compute(item, read(item)))`` for each item in order, the stages overlapped.

    Parameters
    ----------
    items : iterable
        What ``read`` takes, e.g. HDU indices.
    read : callable
        ``read(item)``; runs in a background thread. It must not touch what
        ``write`` touches (the input file vs the output file).
    compute : callable
        ``compute(item, read(item))``; runs in the calling thread (signals,
        progress bars and the network stay there).
    write : callable
        ``write(compute(...))``; runs in a second background thread, one
        call at a time, in order.
    overlap : bool, optional
        False runs the three stages one after another in the calling thread.

    Raises
    ------
    Exception
        Whatever a stage raised, in the sequential order.
    """
    items = list(items)
    if not overlap:
        for item in items:
            write(compute(item, read(item)))
        return
    if not items:
        return
    with ThreadPoolExecutor(1, thread_name_prefix="crclean-read") as reader, \
            ThreadPoolExecutor(1, thread_name_prefix="crclean-write") as writer:
        reading, writing = reader.submit(read, items[0]), None
        try:
            for position, item in enumerate(items):
                inputs = reading.result()
                more = position + 1 < len(items)
                reading = reader.submit(read, items[position + 1]) if more else None
                result = compute(item, inputs)
                del inputs  # the next read may start; this image's input is no longer needed
                if writing is not None:
                    writing.result()  # one image waits to be written at most
                writing = writer.submit(write, result)
                del result
            writing.result()
        except BaseException:
            # Sequentially, the previous image's write came before this failure: its error wins.
            earlier = None if writing is None else writing.exception()
            if earlier is not None:
                raise earlier from None
            raise
