"""Quasi-Newton kernels: the dense BFGS update and the L-BFGS two-loop recursion.

Notation (Nocedal & Wright, ch. 6-7): :math:`s = x_{k+1} - x_k`, :math:`y = g_{k+1} - g_k`,
:math:`\\rho = 1 / s^T y`, :math:`H` the inverse-Hessian approximation, :math:`d = -H g`.

Each kernel does one whole iteration's algebra in one call, so the interpreted driver pays
one dispatch per iteration, and fuses the vector passes to move as little memory as the
algorithm allows.
"""

from __future__ import annotations

import numpy as np

from nsolve._jit import kernel


@kernel(fastmath={"reassoc"})
def symmetric_upper_matvec_into(out, H, v):
    """``out = H v`` reading only the upper triangle (``j >= i``) of the symmetric ``H``.

    Row ``i`` of the triangle is read once, in one fused pass: it adds :math:`H_{ij} v_i` to
    ``out[j]`` for ``j > i`` and accumulates :math:`\\sum_{j>i} H_{ij} v_j` for ``out[i]``.
    Compiled with ``fastmath={"reassoc"}`` so that the row's dot product vectorises.
    """
    n = H.shape[0]
    for i in range(n):
        out[i] = 0.0
    for i in range(n):
        hr = H[i, i + 1 :]
        orow = out[i + 1 :]
        vr = v[i + 1 :]
        vi = v[i]
        acc = H[i, i] * vi
        for j in range(hr.shape[0]):
            h = hr[j]
            orow[j] += h * vi
            acc += h * vr[j]
        out[i] += acc


@kernel(fastmath={"reassoc"})
def bfgs_update_direction_inplace(H, x, x_new, g, g_new, d, s, y, Hg, Hy, scale_identity, curvature_eps):
    """One BFGS iteration's algebra, in place, :math:`O(n^2)` with two passes over H.

    On entry ``H`` (upper triangle) is :math:`H_k` and ``d`` is :math:`-H_k g_k`; on exit
    ``H`` holds

    .. math::

        H_{k+1} = (I - \\rho s y^T) H_k (I - \\rho y s^T) + \\rho s s^T
                = H_k - \\rho (s\\, (H_k y)^T + (H_k y)\\, s^T) + (\\rho^2\\, y^T H_k y + \\rho)\\, s s^T

    and ``d`` the next direction :math:`-H_{k+1} g_{k+1}`, obtained from :math:`H_k g_{k+1}`
    and the rank-two terms without a third pass (:math:`H_k y = H_k g_{k+1} + d`).

    When ``scale_identity`` is true, :math:`H_k` is taken to be the identity and first
    rescaled to :math:`\\gamma I` with :math:`\\gamma = s^T y / y^T y` (N&W eq. 6.20).
    The update is skipped (``H`` unchanged) unless the curvature is safely positive,
    :math:`s^T y > \\varepsilon_c \\|s\\|_2 \\|y\\|_2`.

    Parameters
    ----------
    H : (n, n) float64, only the upper triangle is read and written.
    x, x_new, g, g_new : (n,) float64, the points and gradients of the step.
    d : (n,) float64, in: :math:`-H_k g_k`; out: :math:`-H_{k+1} g_{k+1}`.
    s, y, Hg, Hy : (n,) float64 work arrays (``s`` and ``y`` hold the pair on exit).
    scale_identity : bool
    curvature_eps : float

    Returns
    -------
    updated : bool
        False when the curvature guard skipped the update.

    Notes
    -----
    Compiled with ``fastmath={"reassoc"}`` (see :mod:`nsolve._jit`): the dot products
    vectorise; rounding differs from a left-to-right sum, deterministically.
    """
    n = H.shape[0]
    sy = 0.0
    yy = 0.0
    ss = 0.0
    for i in range(n):
        si = x_new[i] - x[i]
        yi = g_new[i] - g[i]
        s[i] = si
        y[i] = yi
        sy += si * yi
        yy += yi * yi
        ss += si * si
    if scale_identity:
        gamma = 1.0
        if sy > 0.0 and yy > 0.0:
            gamma = sy / yy
        for i in range(n):
            H[i, i] = gamma
            Hg[i] = gamma * g_new[i]
            Hy[i] = gamma * y[i]
    else:
        symmetric_upper_matvec_into(Hg, H, g_new)
        for i in range(n):
            Hy[i] = Hg[i] + d[i]
    if not (sy > curvature_eps * np.sqrt(ss * yy)):
        for i in range(n):
            d[i] = -Hg[i]
        return False
    rho = 1.0 / sy
    yHy = 0.0
    sg = 0.0
    Hyg = 0.0
    for i in range(n):
        yHy += y[i] * Hy[i]
        sg += s[i] * g_new[i]
        Hyg += Hy[i] * g_new[i]
    a = rho * (1.0 + rho * yHy)
    for i in range(n):
        si = s[i]
        asi = a * si
        rsi = rho * si
        rHyi = rho * Hy[i]
        # Row slices indexed from 0 let LLVM vectorise the update of the triangle's row.
        hr = H[i, i:]
        sr = s[i:]
        hyr = Hy[i:]
        for j in range(hr.shape[0]):
            hr[j] += asi * sr[j] - rsi * hyr[j] - rHyi * sr[j]
    for i in range(n):
        d[i] = -(Hg[i] - rho * (s[i] * Hyg + Hy[i] * sg) + a * s[i] * sg)
    return True


@kernel
def symmetrize_from_upper_inplace(H):
    """Copy the upper triangle of ``H`` into its lower triangle."""
    n = H.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            H[j, i] = H[i, j]


@kernel
def lbfgs_free_row(ring, state):
    """The row of the L-BFGS history not in use (where the next pair goes)."""
    count = state[0]
    if count == 0:
        return 0
    return (ring[count - 1] + 1) % (state[1] + 1)


@kernel(fastmath={"reassoc"})
def lbfgs_update_direction_inplace(S, Y, rho, yy_hist, a, ring, state, x, x_new, g, g_new, d, curvature_eps):
    """Store the newest pair and compute :math:`d = -H_{k+1} g_{k+1}` by the two-loop recursion.

    The history lives in a circular buffer of ``m + 1`` rows (``S``, ``Y``: shape
    ``(m + 1, n)``): the new pair is written into the one row not in use
    (:func:`lbfgs_free_row`), so a pair rejected by the curvature guard never destroys the
    oldest one kept.  ``ring[0:count]`` lists the rows in use, oldest first;
    ``state = [count, m]`` (int64); ``rho`` and ``yy_hist`` (length ``m + 1``) hold
    :math:`1 / s^T y` and :math:`y^T y` of each row, ``a`` is work.

    The step is also accepted here: ``x`` and ``g`` receive ``x_new`` and ``g_new`` in the
    same pass.  The caller may therefore keep its trial point in the free rows themselves
    (``x_new = S[free]``, ``g_new = Y[free]``: each entry is read before the pair overwrites
    it), which saves two n-vectors of memory.

    Two-loop recursion (N&W Alg. 7.4) with initial matrix :math:`\\gamma I`,
    :math:`\\gamma = s^T y / y^T y` of the newest pair::

        q = g;  for i newest..oldest:  a_i = rho_i s_i'q;  q -= a_i y_i
        r = gamma q;  for i oldest..newest:  b = rho_i y_i'r;  r += (a_i - b) s_i
        d = -r

    Every dot product of the two loops is fused into the pass that produced its operand, so
    each history vector is read twice per iteration and ``d`` once per pass (plus one
    read-only pass over the new pair for its dot products).  The kernel is
    compiled with ``fastmath={"reassoc"}`` (see :mod:`nsolve._jit`): LLVM then vectorises
    the reductions, five times faster when the history sits in cache (n = 1000); the
    summation order is fixed by the compiled code, so runs are reproducible and the
    interpreted and compiled solvers, which call this one kernel, agree bit for bit.  That
    agreement rests on LLVM vectorising each loop the same way inside the compiled solvers
    (where the kernel is inlined) as on its own: ``tests/test_bridge.py`` and
    ``tests/test_compiled.py`` check it.  A restructuring that looked harmless (scaling by
    gamma in the first loop's last pass) broke it at the 1e-11 level and was reverted.

    Returns
    -------
    updated : bool
        False when the curvature guard rejected the pair (``s^T y`` not safely positive).
    """
    n = x.shape[0]
    count = state[0]
    m = state[1]
    free = lbfgs_free_row(ring, state)
    # The pair (and the accepted point).  No reduction here: ``x_new`` may be the free row
    # itself, and a loop whose operands may overlap runs scalar, which would change the
    # order of a vectorised sum; the dot products follow in a pass that only reads.
    for i in range(n):
        xn = x_new[i]
        gn = g_new[i]
        S[free, i] = xn - x[i]
        Y[free, i] = gn - g[i]
        x[i] = xn
        g[i] = gn
    sy = 0.0
    yy = 0.0
    ss = 0.0
    sg = 0.0
    for i in range(n):
        si = S[free, i]
        yi = Y[free, i]
        sy += si * yi
        yy += yi * yi
        ss += si * si
        sg += si * g[i]
    updated = sy > curvature_eps * np.sqrt(ss * yy)
    if updated:
        rho[free] = 1.0 / sy
        yy_hist[free] = yy
        if count == m:
            for k in range(m - 1):
                ring[k] = ring[k + 1]
            ring[m - 1] = free
        else:
            ring[count] = free
            count += 1
        state[0] = count
    if count == 0:
        for i in range(n):
            d[i] = -g[i]
        return updated
    newest = ring[count - 1]
    if updated:
        dot_next = sg
        for i in range(n):
            d[i] = g[i]
    else:
        dot_next = 0.0
        for i in range(n):
            gi = g[i]
            d[i] = gi
            dot_next += S[newest, i] * gi
    # First loop, newest to oldest; d holds q.
    for idx in range(count - 1, -1, -1):
        k = ring[idx]
        ak = rho[k] * dot_next
        a[k] = ak
        dot_next = 0.0
        if idx > 0:
            nxt = ring[idx - 1]
            for i in range(n):
                qi = d[i] - ak * Y[k, i]
                d[i] = qi
                dot_next += S[nxt, i] * qi
        else:
            for i in range(n):
                d[i] -= ak * Y[k, i]
    # Initial matrix gamma I, fused with the first dot of the second loop.
    gamma = 1.0 / (rho[newest] * yy_hist[newest])
    oldest = ring[0]
    dot_next = 0.0
    for i in range(n):
        ri = gamma * d[i]
        d[i] = ri
        dot_next += Y[oldest, i] * ri
    # Second loop, oldest to newest; d holds r, negated on the last pass.
    for idx in range(count):
        k = ring[idx]
        coef = a[k] - rho[k] * dot_next
        dot_next = 0.0
        if idx < count - 1:
            nxt = ring[idx + 1]
            for i in range(n):
                ri = d[i] + coef * S[k, i]
                d[i] = ri
                dot_next += Y[nxt, i] * ri
        else:
            for i in range(n):
                d[i] = -(d[i] + coef * S[k, i])
    return updated

