"""Numba kernels of arrays and scalars only (``@kernel``: nopython, cached, float64)."""
