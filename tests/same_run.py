"""Shared test helper: two runs of minimize are the same run, to the last bit."""

from __future__ import annotations

import math

import numpy as np


def as_python(func):
    """A plain Python function calling ``func`` (None stays None)."""
    return None if func is None else (lambda x, *a: func(x, *a))


def assert_same_run(res, ref):
    """Same counts, status, point, gradient, value, message (and BFGS's hess_inv), bit for bit."""
    assert (res.nit, res.nfev, res.njev, res.nhev, res.status) == (ref.nit, ref.nfev, ref.njev, ref.nhev, ref.status)
    np.testing.assert_array_equal(res.x, ref.x)
    np.testing.assert_array_equal(res.jac, ref.jac)
    assert res.fun == ref.fun or (math.isnan(res.fun) and math.isnan(ref.fun))
    assert (res.success, res.message, res.method) == (ref.success, ref.message, ref.method)
    if "hess_inv" in ref:
        np.testing.assert_array_equal(res.hess_inv, ref.hess_inv)
