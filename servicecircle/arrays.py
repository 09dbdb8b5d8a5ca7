"""Array helpers the pipeline needs at city size."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def unique(values: ArrayLike) -> np.ndarray:
    """The sorted distinct values of a 1-D array, by one sort.

    numpy 2.4's plain ``np.unique`` takes a hash-table path that is 50× slower
    than sorting on large integer arrays (5.8 s against 0.1 s for 4.8 M int64
    values); with ``return_index`` it sorts again, but builds arrays we do not need.
    """
    values = np.sort(np.asarray(values).ravel())
    if len(values) == 0:
        return values
    return values[np.r_[True, values[1:] != values[:-1]]]
