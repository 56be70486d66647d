"""Finite-difference kernels: step sizes and the difference quotients.

The loops that call the user's function live in :mod:`nsolve._objective` (a Python callable
cannot be called from a cached kernel); everything else is here.
"""

from __future__ import annotations

from nsolve._jit import kernel


@kernel
def fd_steps_into(h, x, rel_step):
    """Write the steps :math:`h_i = r\\,\\max(1, |x_i|)\\,\\mathrm{sign}(x_i)` (sign(0) = +1).

    The step actually used is the representable difference ``(x_i + h_i) - x_i``, which
    removes the rounding error of the step itself from the quotient.
    """
    for i in range(x.shape[0]):
        a = abs(x[i])
        step = rel_step * (a if a > 1.0 else 1.0)
        if x[i] < 0.0:
            step = -step
        h[i] = (x[i] + step) - x[i]


@kernel
def forward_gradient_from_values(g, f_plus, f0, h):
    """:math:`g_i = (f(x + h_i e_i) - f(x)) / h_i`."""
    for i in range(g.shape[0]):
        g[i] = (f_plus[i] - f0) / h[i]


@kernel
def central_gradient_from_values(g, f_plus, f_minus, h):
    """:math:`g_i = (f(x + h_i e_i) - f(x - h_i e_i)) / (2 h_i)`."""
    for i in range(g.shape[0]):
        g[i] = (f_plus[i] - f_minus[i]) / (2.0 * h[i])


@kernel
def fd_hessian_symmetrize_inplace(H, g0, h):
    """Turn columns :math:`\\nabla f(x + h_j e_j)` into the symmetric FD Hessian.

    On entry column ``j`` of ``H`` holds the gradient at :math:`x + h_j e_j`; on exit
    :math:`H \\leftarrow \\tfrac12 (D + D^T)` with :math:`D_{ij} = (H_{ij} - g_{0,i}) / h_j`.
    """
    n = H.shape[0]
    for j in range(n):
        for i in range(n):
            H[i, j] = (H[i, j] - g0[i]) / h[j]
    for i in range(n):
        for j in range(i + 1, n):
            v = 0.5 * (H[i, j] + H[j, i])
            H[i, j] = v
            H[j, i] = v
