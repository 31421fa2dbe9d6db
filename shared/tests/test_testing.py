"""The comparison every GPU kernel and roadmap route is judged by."""

import math

import numpy as np

from shared.testing import relative_error


def test_relative_error_is_norm_wise_and_sees_nan():
    ref = np.array([[3.0, 4.0]])  # norm 5
    assert relative_error(ref, ref) == 0.0
    assert relative_error(np.array([[3.0, 4.5]], np.float32), ref) == 0.1
    assert math.isnan(relative_error(np.array([[np.nan, 4.0]]), ref))  # an unwritten output
    assert relative_error(np.ones(2), np.zeros(2)) == math.sqrt(2)  # a zero reference divides by 1
