"""The buffer pool of fast generated functions (copied whole into each module that has one).

A function's work buffers depend on the batch size: one set is made per size on first
use and kept for the next calls, a few sizes at most.
"""


def buffers(pool, alloc, n):
    """Work buffers for batch size n, made on first use; at most 8 batch sizes are kept."""
    if len(pool) >= 8:
        pool.clear()
    found = pool[n] = alloc(n)
    return found
