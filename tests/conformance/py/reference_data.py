"""NumPy references of the generated data-movement ops (see reference.py)."""

import numpy as np


def register(ops, ref):
    """Adds this module's kernels to reference.py's op table.

    ``ref`` is the reference module: its helpers (ref._BOP, ref._opts,
    ref._unary, ref._binary, ref.schema, ...) are used from here.
    """
    del ops, ref


_ = np
