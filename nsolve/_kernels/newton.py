"""Newton kernels: the modified-Cholesky Newton direction and truncated-CG vector steps."""

from __future__ import annotations

import numpy as np

from nsolve._jit import kernel


@kernel
def _is_symmetric(H):
    """Return True when ``H`` equals its transpose exactly (and has no NaN below the
    diagonal).  No early exit: the mismatch flag is an integer reduction, so the loop over
    a row vectorises."""
    n = H.shape[0]
    bad = 0
    for i in range(n):
        for j in range(i):
            bad |= H[i, j] != H[j, i]
    return bad == 0


@kernel
def _symmetrize_lower_into(A, H):
    r"""Write :math:`A_{ij} = (H_{ij} + H_{ji}) / 2` for :math:`j \le i` and zeros above the
    diagonal (the factorization reads the lower triangle only)."""
    n = H.shape[0]
    for i in range(n):
        Ai = A[i]
        for j in range(i + 1):
            Ai[j] = 0.5 * (H[i, j] + H[j, i])
        for j in range(i + 1, n):
            Ai[j] = 0.0


@kernel
def _dot_prefix(a, b, m):
    r"""Return :math:`\sum_{k < m} a_k b_k`, summed in eight interleaved partial sums
    (a fixed order that compiles to SIMD code without reassociation flags)."""
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    s4 = 0.0
    s5 = 0.0
    s6 = 0.0
    s7 = 0.0
    m8 = m - m % 8
    for k in range(0, m8, 8):
        s0 += a[k] * b[k]
        s1 += a[k + 1] * b[k + 1]
        s2 += a[k + 2] * b[k + 2]
        s3 += a[k + 3] * b[k + 3]
        s4 += a[k + 4] * b[k + 4]
        s5 += a[k + 5] * b[k + 5]
        s6 += a[k + 6] * b[k + 6]
        s7 += a[k + 7] * b[k + 7]
    for k in range(m8, m):
        s0 += a[k] * b[k]
    return ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7))


@kernel
def cholesky_solve_into(d, L, b):
    r"""Solve :math:`L L^T d = b` for a lower-triangular, C-ordered ``L``.

    Forward substitution :math:`L z = b` by rows (:math:`z_i = (b_i - L_{i,:i} z_{:i}) /
    L_{ii}`), then back substitution :math:`L^T d = z` by rows of ``L`` as ``axpy``\ s
    (:math:`d_i = z_i / L_{ii}`, then :math:`z_{:i} \mathrel{-}= d_i L_{i,:i}`): every access
    is contiguous, :math:`2 n^2` multiply-adds.  ``d`` may alias ``b``.
    """
    n = L.shape[0]
    for i in range(n):
        Li = L[i]
        d[i] = (b[i] - _dot_prefix(Li, d, i)) / Li[i]
    for i in range(n - 1, -1, -1):
        Li = L[i]
        di = d[i] / Li[i]
        d[i] = di
        for k in range(i):
            d[k] -= di * Li[k]


#: A Cholesky pivot with :math:`L_{ii}^2 \le` ``PIVOT_RTOL`` :math:`A_{ii}` has lost all but
#: rounding of its diagonal entry: the matrix is singular to working precision (a Hessian
#: with an exact null space, as logistic regression without a penalty and with collinear
#: features), and is treated as not positive definite, so that the shift bounds the step
#: along the null space instead of dividing rounding noise by a pivot of size ~1e-16.
PIVOT_RTOL = 1e-13


@kernel
def _cholesky_solve(d, A, b):
    """Solve :math:`A d = b` by LAPACK's Cholesky (lower triangle of ``A``) and
    :func:`cholesky_solve_into`; False (``d`` untouched) when ``A`` is not positive definite
    or singular to working precision (a pivot below ``PIVOT_RTOL`` of its diagonal entry)."""
    ok = True
    try:
        L = np.linalg.cholesky(A)
    except Exception:  # noqa: BLE001 - Numba raises LinAlgError for a non-PD matrix
        ok = False
        L = A
    if ok:
        for i in range(L.shape[0]):
            if not (L[i, i] * L[i, i] > PIVOT_RTOL * A[i, i]):
                return False
        cholesky_solve_into(d, L, b)
    return ok


@kernel
def newton_direction_into(d, H, g, beta):
    """Solve :math:`(H + \\tau I) d = -g` with the smallest tried :math:`\\tau \\ge 0` that
    makes the matrix positive definite (Cholesky with added multiple of the identity,
    Nocedal & Wright Alg. 3.3).

    :math:`\\tau_0 = 0` if :math:`\\min_i H_{ii} > 0`, else :math:`-\\min_i H_{ii} + \\beta`;
    then :math:`\\tau \\leftarrow \\max(2\\tau, \\beta)` until the Cholesky factorization
    succeeds.  With a positive definite H the full Newton step (:math:`\\tau = 0`) is used.

    The factorised matrix is :math:`(H + H^T)/2 + \\tau I`.  An exactly symmetric ``H``
    with :math:`\\tau = 0` is factorised as it is; otherwise the lower triangle of the
    shifted, symmetrised matrix is formed in one work array (a second :math:`n \\times n`
    temporary per call, fresh memory each time, was measured to cost as much as the
    factorization itself at :math:`n = 650`).  The factorization is LAPACK's ``potrf``
    (``np.linalg.cholesky``, :math:`n^3/6` multiply-adds at BLAS speed); the triangular
    solves are :func:`cholesky_solve_into` (contiguous, :math:`2n^2`).  ``H`` is not
    modified.

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
    b = np.empty(n)
    for i in range(n):
        b[i] = -g[i]
    # An exactly symmetric H is factorised as it is when no shift is needed (the common
    # case): no n x n work copy.
    if tau == 0.0 and _is_symmetric(H):
        if _cholesky_solve(d, H, b):
            return tau
        tau = beta
    A = np.empty((n, n))
    _symmetrize_lower_into(A, H)
    diag = np.empty(n)
    for i in range(n):
        diag[i] = A[i, i]
    while tau < 1e300:
        for i in range(n):
            A[i, i] = diag[i] + tau
        if _cholesky_solve(d, A, b):
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
