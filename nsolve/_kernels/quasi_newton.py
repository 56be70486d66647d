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

    The triangle is read once, four rows at a time: the 4 x 4 diagonal block, then one
    fused pass over the four rows' common columns ``j > i + 3`` that adds
    :math:`\\sum_{r} H_{rj} v_r` to ``out[j]`` and accumulates :math:`\\sum_j H_{rj} v_j`
    for the four ``out[r]``.  Each ``out[j]`` and ``v[j]`` is then loaded once per four rows
    instead of once per row, which makes the pass bound by the triangle's reads.  Compiled
    with ``fastmath={"reassoc"}`` so that the row sums vectorise.
    """
    n = H.shape[0]
    for i in range(n):
        out[i] = 0.0
    i = 0
    while i + 3 < n:
        for r in range(i, i + 4):  # the diagonal block, from its upper triangle
            acc = 0.0
            for c in range(i, i + 4):
                acc += (H[r, c] if r <= c else H[c, r]) * v[c]
            out[r] += acc
        h0 = H[i, i + 4 :]
        h1 = H[i + 1, i + 4 :]
        h2 = H[i + 2, i + 4 :]
        h3 = H[i + 3, i + 4 :]
        orow = out[i + 4 :]
        vr = v[i + 4 :]
        v0 = v[i]
        v1 = v[i + 1]
        v2 = v[i + 2]
        v3 = v[i + 3]
        a0 = 0.0
        a1 = 0.0
        a2 = 0.0
        a3 = 0.0
        for j in range(orow.shape[0]):
            p0 = h0[j]
            p1 = h1[j]
            p2 = h2[j]
            p3 = h3[j]
            vj = vr[j]
            orow[j] += p0 * v0 + p1 * v1 + p2 * v2 + p3 * v3
            a0 += p0 * vj
            a1 += p1 * vj
            a2 += p2 * vj
            a3 += p3 * vj
        out[i] += a0
        out[i + 1] += a1
        out[i + 2] += a2
        out[i + 3] += a3
        i += 4
    while i < n:  # the last n mod 4 rows, one at a time
        vi = v[i]
        acc = H[i, i] * vi
        for j in range(i + 1, n):
            h = H[i, j]
            out[j] += h * vi
            acc += h * v[j]
        out[i] += acc
        i += 1


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
    # Row i of the update is H_ij += c_i s_j - e_i (H_k y)_j with c_i = a s_i - rho (H_k y)_i
    # and e_i = rho s_i: two multiply-adds per entry.  Rows go in pairs, so each s_j and
    # (H_k y)_j is loaded once per two rows; slices indexed from 0 let LLVM vectorise.
    i = 0
    while i < n:
        c0 = a * s[i] - rho * Hy[i]
        e0 = rho * s[i]
        H[i, i] += c0 * s[i] - e0 * Hy[i]
        if i + 1 == n:
            break
        c1 = a * s[i + 1] - rho * Hy[i + 1]
        e1 = rho * s[i + 1]
        # the pair's common columns j > i; those up to the first 64-byte boundary of row i
        # one by one, so that the vector loop's loads and stores of that row are aligned
        # (no effect on the values)
        c = i + 1
        al = min(n, c + ((64 - H[i, c:].ctypes.data % 64) % 64) // 8)
        for j in range(c, al):
            H[i, j] += c0 * s[j] - e0 * Hy[j]
            H[i + 1, j] += c1 * s[j] - e1 * Hy[j]
        h0 = H[i, al:]
        h1 = H[i + 1, al:]
        sr = s[al:]
        hyr = Hy[al:]
        for j in range(sr.shape[0]):
            sj = sr[j]
            hj = hyr[j]
            h0[j] += c0 * sj - e0 * hj
            h1[j] += c1 * sj - e1 * hj
        i += 2
    for i in range(n):
        d[i] = -(Hg[i] - rho * (s[i] * Hyg + Hy[i] * sg) + a * s[i] * sg)
    return True


#: float64 entries of slack a buffer needs for :func:`aligned_square` (64-byte alignment).
ALIGN_SLACK = 7


@kernel
def aligned_square(buf, n):
    """The ``(n, n)`` C-ordered view of ``buf`` that starts on a 64-byte boundary.

    ``buf`` (float64, at least ``n * n + ALIGN_SLACK`` entries) is where BFGS keeps its
    matrix: rows that start on cache-line boundaries (for ``n`` a multiple of 8) make the
    vector loops of :func:`bfgs_update_direction_inplace` about a tenth faster at
    ``n = 1000``.  Alignment changes no value.
    """
    off = ((64 - buf.ctypes.data % 64) % 64) // 8
    return buf[off : off + n * n].reshape((n, n))


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
    step_inf, x_inf : float
        :math:`\\max_i |x_{new,i} - x_i|` and :math:`\\max_i |x_{new,i}|`, the values of
        :func:`nsolve._kernels.vector.step_stats` (the xtol test), taken in the store pass.
    """
    n = x.shape[0]
    count = state[0]
    m = state[1]
    free = lbfgs_free_row(ring, state)
    # The pair (and the accepted point).  No sum here: ``x_new`` may be the free row itself,
    # and a loop whose operands may overlap runs scalar, which would change the order of a
    # vectorised sum; the dot products follow in a pass that only reads.  The step's
    # inf-norms (the xtol test) are maxima, exact in any order, so they are taken here.
    step_inf = 0.0
    x_inf = 0.0
    for i in range(n):
        xn = x_new[i]
        gn = g_new[i]
        si = xn - x[i]
        S[free, i] = si
        Y[free, i] = gn - g[i]
        x[i] = xn
        g[i] = gn
        v = abs(si)
        if v > step_inf:
            step_inf = v
        w = abs(xn)
        if w > x_inf:
            x_inf = w
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
        return updated, step_inf, x_inf
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
    return updated, step_inf, x_inf

