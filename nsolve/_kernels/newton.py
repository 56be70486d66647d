"""Newton kernels: the modified-Cholesky Newton direction and truncated-CG vector steps."""

from __future__ import annotations

import numpy as np

from nsolve._jit import kernel


@kernel
def newton_direction_into(d, H, g, beta):
    """Solve :math:`(H + \\tau I) d = -g` with the smallest tried :math:`\\tau \\ge 0` that
    makes the matrix positive definite (Cholesky with added multiple of the identity,
    Nocedal & Wright Alg. 3.3).

    :math:`\\tau_0 = 0` if :math:`\\min_i H_{ii} > 0`, else :math:`-\\min_i H_{ii} + \\beta`;
    then :math:`\\tau \\leftarrow \\max(2\\tau, \\beta)` until the Cholesky factorization
    succeeds.  With a positive definite H the full Newton step (:math:`\\tau = 0`) is used.

    Returns
    -------
    tau : float
        The shift used (0.0 for the pure Newton direction); ``-1.0`` if no shift up to
        :math:`10^{300}` worked (H not finite).
    """
    n = H.shape[0]
    min_diag = np.inf
    for i in range(n):
        if H[i, i] < min_diag:
            min_diag = H[i, i]
    tau = 0.0
    if not (min_diag > 0.0):
        tau = -min_diag + beta
    A = np.empty((n, n))
    while tau < 1e300:
        for i in range(n):
            for j in range(n):
                A[i, j] = 0.5 * (H[i, j] + H[j, i])
            A[i, i] += tau
        ok = True
        try:
            L = np.linalg.cholesky(A)
        except Exception:  # noqa: BLE001 - Numba raises LinAlgError for a non-PD matrix
            ok = False
            L = A
        if ok:
            # Forward and back substitution: L z = -g, L^T d = z.
            for i in range(n):
                acc = -g[i]
                for k in range(i):
                    acc -= L[i, k] * d[k]
                d[i] = acc / L[i, i]
            for i in range(n - 1, -1, -1):
                acc = d[i]
                for k in range(i + 1, n):
                    acc -= L[k, i] * d[k]
                d[i] = acc / L[i, i]
            return tau
        tau = max(2.0 * tau, beta)
    for i in range(n):
        d[i] = -g[i]
    return -1.0


@kernel
def cg_step_inplace(z, r, p, Hp, alpha):
    """One CG step of the inner solve: :math:`z \\mathrel{+}= \\alpha p`,
    :math:`r \\mathrel{+}= \\alpha H p`; returns the new :math:`r^T r`."""
    rr = 0.0
    for i in range(z.shape[0]):
        z[i] += alpha * p[i]
        ri = r[i] + alpha * Hp[i]
        r[i] = ri
        rr += ri * ri
    return rr


@kernel
def cg_direction_inplace(p, r, beta):
    """:math:`p \\leftarrow -r + \\beta p`."""
    for i in range(p.shape[0]):
        p[i] = -r[i] + beta * p[i]
