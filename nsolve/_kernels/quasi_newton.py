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


#: Largest ``n`` for which :func:`bfgs_update_direction_inplace` runs the plain loops of
#: :func:`_bfgs_update_small` rather than the vectorised passes of :func:`_bfgs_update_large`.
BFGS_SMALL_N = 8


@kernel(inline="always")
def bfgs_update_direction_inplace(H, x, x_new, g, g_new, d, s, y, Hg, Hy, h0_rule, curvature_eps):
    """One BFGS iteration's algebra, in place, :math:`O(n^2)` with two passes over H.

    On entry ``H`` (upper triangle) is :math:`H_k` and ``d`` is :math:`-H_k g_k`; on exit
    ``H`` holds

    .. math::

        H_{k+1} = (I - \\rho s y^T) H_k (I - \\rho y s^T) + \\rho s s^T
                = H_k - \\rho (s\\, (H_k y)^T + (H_k y)\\, s^T) + (\\rho^2\\, y^T H_k y + \\rho)\\, s s^T

    and ``d`` the next direction :math:`-H_{k+1} g_{k+1}`, obtained from :math:`H_k g_{k+1}`
    and the rank-two terms without a third pass (:math:`H_k y = H_k g_{k+1} + d`).

    When ``h0_rule`` is not 0, :math:`H_k` is taken to be the identity and first rescaled
    to :math:`\\gamma I`: ``h0_rule = 1`` takes :math:`\\gamma = s^T s / s^T y` (the long
    Barzilai-Borwein step: the inverse of the mean curvature along :math:`s`), ``h0_rule = 2``
    takes :math:`\\gamma = s^T y / y^T y` (the short one; N&W eq. 6.20).  The update is
    skipped (``H`` unchanged, not rescaled either) unless the curvature is safely positive,
    :math:`s^T y > \\varepsilon_c \\|s\\|_2 \\|y\\|_2`.

    Parameters
    ----------
    H : (n, n) float64, only the upper triangle is read and written.
    x, x_new, g, g_new : (n,) float64, the points and gradients of the step.
    d : (n,) float64, in: :math:`-H_k g_k`; out: :math:`-H_{k+1} g_{k+1}`.
    s, y, Hg, Hy : (n,) float64 work arrays (``s`` and ``y`` hold the pair on exit).
    h0_rule : int
        0: use ``H`` as it is; 1 or 2: take :math:`H_k = I` and scale it first (see above).
    curvature_eps : float

    Returns
    -------
    updated : bool
        False when the curvature guard skipped the update.

    Notes
    -----
    Two implementations of the same formulas, chosen by ``n``:

    * ``n <= BFGS_SMALL_N``: :func:`_bfgs_update_small`, plain loops with left-to-right sums,
      inlined into the caller (this function is ``inline="always"``: a compiled solver of a
      small problem makes no call at all, and passes none of the nine arrays through the
      stack).  For a 2-D problem the vectorised passes' set-up and the call itself cost more
      than the arithmetic: measured on 10^5 2-D Rosenbrock solves, the update and its call
      were about a quarter of a compiled BFGS solve.
    * larger ``n``: :func:`_bfgs_update_large`, compiled with ``fastmath={"reassoc"}`` (see
      :mod:`nsolve._jit`) so that its dot products vectorise; rounding differs from a
      left-to-right sum, deterministically.

    The interpreted and the compiled solvers both call this function, so they agree bit for
    bit at every ``n``.
    """
    if H.shape[0] <= BFGS_SMALL_N:
        return _bfgs_update_small(H, x, x_new, g, g_new, d, s, y, Hg, Hy, h0_rule, curvature_eps)
    return _bfgs_update_large(H, x, x_new, g, g_new, d, s, y, Hg, Hy, h0_rule, curvature_eps)


# The pieces both forms share, inlined into each at Numba's IR level, so that each compiles
# them with its own options (the vectorised form's reductions with ``reassoc``).
@kernel(inline="always")
def _bfgs_pair_into(x, x_new, g, g_new, s, y):
    """``s = x_new - x``, ``y = g_new - g``; returns :math:`(s^T y, y^T y, s^T s)`."""
    sy = 0.0
    yy = 0.0
    ss = 0.0
    for i in range(x.shape[0]):
        si = x_new[i] - x[i]
        yi = g_new[i] - g[i]
        s[i] = si
        y[i] = yi
        sy += si * yi
        yy += yi * yi
        ss += si * si
    return sy, yy, ss


@kernel(inline="always")
def _bfgs_scaled_start(H, g_new, y, d, Hg, Hy, h0_rule, sy, yy, ss, curvature_eps):
    """Take :math:`H_k = \\gamma I` (``h0_rule`` 1 or 2) and set ``Hg``, ``Hy``; False, with
    ``d = -g_new``, when the curvature guard rejects the pair."""
    n = g_new.shape[0]
    if not (sy > curvature_eps * np.sqrt(ss * yy)):
        # a rejected pair does not scale H either: it stays the identity, d = -g
        for i in range(n):
            d[i] = -g_new[i]
        return False
    gamma = ss / sy if h0_rule == 1 else sy / yy  # (the guard makes sy, ss and yy > 0)
    for i in range(n):
        H[i, i] = gamma
        Hg[i] = gamma * g_new[i]
        Hy[i] = gamma * y[i]
    return True


@kernel(inline="always")
def _bfgs_coefficients(s, y, g_new, Hy, sy):
    """:math:`\\rho = 1/s^T y`, :math:`a = \\rho (1 + \\rho\\, y^T H_k y)`, :math:`s^T g_{k+1}`
    and :math:`(H_k y)^T g_{k+1}`."""
    rho = 1.0 / sy
    yHy = 0.0
    sg = 0.0
    Hyg = 0.0
    for i in range(s.shape[0]):
        yHy += y[i] * Hy[i]
        sg += s[i] * g_new[i]
        Hyg += Hy[i] * g_new[i]
    return rho, rho * (1.0 + rho * yHy), sg, Hyg


@kernel(inline="always")
def _bfgs_next_direction(d, Hg, s, Hy, rho, a, sg, Hyg):
    """:math:`d = -H_{k+1} g_{k+1}` from :math:`H_k g_{k+1}` and the rank-two terms."""
    for i in range(d.shape[0]):
        d[i] = -(Hg[i] - rho * (s[i] * Hyg + Hy[i] * sg) + a * s[i] * sg)


@kernel(inline="always")
def _upper_matvec_small(out, H, v):
    """``out = H v`` from the upper triangle of ``H``, in plain loops (small ``n``)."""
    n = H.shape[0]
    for i in range(n):
        acc = 0.0
        for j in range(i):
            acc += H[j, i] * v[j]
        for j in range(i, n):
            acc += H[i, j] * v[j]
        out[i] = acc


@kernel(inline="always")
def _bfgs_start(matvec, H, g_new, y, d, Hg, Hy, h0_rule, sy, yy, ss, curvature_eps):
    """``Hg`` = :math:`H_k g_{k+1}` and ``Hy`` = :math:`H_k y` (``matvec`` forms the first;
    :math:`H_k = \\gamma I` when ``h0_rule`` is not 0).  False, with ``d`` the unchanged
    matrix's direction, when the curvature guard rejects the pair."""
    if h0_rule != 0:
        return _bfgs_scaled_start(H, g_new, y, d, Hg, Hy, h0_rule, sy, yy, ss, curvature_eps)
    matvec(Hg, H, g_new)
    n = g_new.shape[0]
    for i in range(n):
        Hy[i] = Hg[i] + d[i]
    if not (sy > curvature_eps * np.sqrt(ss * yy)):
        for i in range(n):
            d[i] = -Hg[i]
        return False
    return True


@kernel(inline="always")
def _bfgs_update_small(H, x, x_new, g, g_new, d, s, y, Hg, Hy, h0_rule, curvature_eps):
    """:func:`bfgs_update_direction_inplace` in plain loops, for small ``n`` (inlined)."""
    sy, yy, ss = _bfgs_pair_into(x, x_new, g, g_new, s, y)
    if not _bfgs_start(_upper_matvec_small, H, g_new, y, d, Hg, Hy, h0_rule, sy, yy, ss, curvature_eps):
        return False
    rho, a, sg, Hyg = _bfgs_coefficients(s, y, g_new, Hy, sy)
    for i in range(H.shape[0]):
        c = a * s[i] - rho * Hy[i]
        e = rho * s[i]
        for j in range(i, H.shape[0]):
            H[i, j] += c * s[j] - e * Hy[j]
    _bfgs_next_direction(d, Hg, s, Hy, rho, a, sg, Hyg)
    return True


@kernel(fastmath={"reassoc"})
def _bfgs_update_large(H, x, x_new, g, g_new, d, s, y, Hg, Hy, h0_rule, curvature_eps):
    """:func:`bfgs_update_direction_inplace` in vectorised passes, for larger ``n``."""
    n = H.shape[0]
    sy, yy, ss = _bfgs_pair_into(x, x_new, g, g_new, s, y)
    if not _bfgs_start(symmetric_upper_matvec_into, H, g_new, y, d, Hg, Hy, h0_rule, sy, yy, ss, curvature_eps):
        return False
    rho, a, sg, Hyg = _bfgs_coefficients(s, y, g_new, Hy, sy)
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
    _bfgs_next_direction(d, Hg, s, Hy, rho, a, sg, Hyg)
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


#: The Gram form of :func:`lbfgs_update_direction_inplace` is used when the history holds
#: at least this many entries per vector set, ``(m + 1) n >= LBFGS_GRAM_MIN`` (2 (m + 1) n
#: doubles >= 4 MB: more than this machine's L2 cache).  Below it the history stays in cache,
#: where the recursion's fewer floating-point operations win (measured with m = 10, kernel
#: alone: the Gram form takes 1.2-1.3x the time at n = 1000-10 000, the same at 30 000, 0.93x
#: at 10^5-10^6 and 0.77x at 10^7; docs/quasi-newton.md).
LBFGS_GRAM_MIN = 1 << 18
#: Entries per block of the Gram form's two passes: the block of ``g``, ``d`` and the new
#: pair (64 KB each) stays in the L2 cache while the history rows stream past it in runs long
#: enough for the hardware prefetcher (4 KB runs, one page, were 1.6x slower at n = 10^7).
LBFGS_BLOCK = 8192
#: Rows of the L-BFGS kernel's ``work`` array.
LBFGS_WORK_ROWS = 7


@kernel
def lbfgs_gram_form(n, m):
    """1 when the L-BFGS solvers take the Gram form (:func:`lbfgs_gram_update_direction_inplace`)
    for ``n`` variables and ``m`` pairs, else 0 (:func:`lbfgs_update_direction_inplace`)."""
    return 1 if (m + 1) * n >= LBFGS_GRAM_MIN else 0


def lbfgs_workspace(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(gram, work, ring, state)``: the small arrays of the L-BFGS kernels for ``n`` variables
    and ``m`` pairs, history empty; ``state = [0, m, gram_form]`` (plain NumPy: nothing to compile)."""
    state = np.array([0, m, getattr(lbfgs_gram_form, "py_func", lbfgs_gram_form)(n, m)], dtype=np.int64)
    return np.zeros((2, m + 1, m + 1)), np.zeros((LBFGS_WORK_ROWS, m + 1)), np.zeros(m, dtype=np.int64), state


def lbfgs_kernel(state: np.ndarray):
    """The update kernel of the form ``state[2]`` selects (interpreted callers pick it once per run)."""
    return lbfgs_gram_update_direction_inplace if state[2] != 0 else lbfgs_update_direction_inplace


@kernel(fastmath={"reassoc"})
def lbfgs_update_direction_inplace(S, Y, gram, work, ring, state, x, x_new, g, g_new, d, curvature_eps):
    """Store the newest pair and compute :math:`d = -H_{k+1} g_{k+1}` by the two-loop recursion.

    The history lives in a circular buffer of ``m + 1`` rows (``S``, ``Y``: shape
    ``(m + 1, n)``): the new pair is written into the one row not in use
    (:func:`lbfgs_free_row`), so a pair rejected by the curvature guard never destroys the
    oldest one kept.  ``ring[0:count]`` lists the rows in use, oldest first;
    ``state = [count, m, gram_form]`` (int64).  ``gram`` (shape ``(2, m + 1, m + 1)``)
    holds inner products of the pairs, by row: :math:`s_i^T y_j` in ``gram[0]`` and
    :math:`y_i^T y_j` in ``gram[1]`` (only the diagonals in the vector form); ``work``
    (``(7, m + 1)``) is scratch, with :math:`\\rho_i` in ``work[6]``.
    :func:`lbfgs_workspace` makes all four.

    The step is also accepted here: ``x`` and ``g`` receive ``x_new`` and ``g_new`` in the
    same pass.  The caller may therefore keep its trial point in the free rows themselves
    (``x_new = S[free]``, ``g_new = Y[free]``: each entry is read before the pair overwrites
    it), which saves two n-vectors of memory.

    Two-loop recursion (N&W Alg. 7.4) with initial matrix :math:`\\gamma I`,
    :math:`\\gamma = s^T y / y^T y` of the newest pair, :math:`\\rho_i = 1 / s_i^T y_i`::

        q = g;  for i newest..oldest:  a_i = rho_i s_i'q;  q -= a_i y_i
        r = gamma q;  for i oldest..newest:  b_i = rho_i y_i'r;  r += (a_i - b_i) s_i
        d = -r

    It is evaluated in one of two ways, fixed for a run by ``state[2]``
    (:func:`lbfgs_gram_form`; :func:`lbfgs_kernel` returns the kernel):

    * **Vector form**, this kernel (the history fits in cache): the loops as written, every
      dot product fused into the pass that produced its operand.  Each history vector is
      read twice and ``d`` once per pass, :math:`4mn` multiply-adds.
    * **Gram form**, :func:`lbfgs_gram_update_direction_inplace` (large n): every inner
      product the loops need is expanded over the pairs' Gram matrices, as in the compact
      representation of Byrd, Nocedal & Schnabel (1994),

      .. math::

          s_i^T q_i = s_i^T g - \\sum_{j \\succ i} a_j\\, s_i^T y_j, \\qquad
          y_i^T r_i = \\gamma \\Big(y_i^T g - \\sum_j a_j\\, y_i^T y_j\\Big)
                     + \\sum_{l \\prec i} (a_l - b_l)\\, s_l^T y_i

      (:math:`\\succ`: newer), so the recursion's :math:`2m` dependent passes become
      :math:`O(m^2)` scalar work between two passes over the history: the inner products
      of the new pair and gradient with every row in use (:math:`S^T g, Y^T g, S^T y,
      Y^T y`, computed from the vectors, never as differences of earlier ones), then
      :math:`d = -\\gamma g + \\sum_j \\gamma a_j y_j - \\sum_i (a_i - b_i) s_i`.  Each history
      row is read twice per iteration instead of four times, which halves the memory
      traffic (:math:`6mn` multiply-adds instead of :math:`4mn`).  Both passes go a block of
      ``LBFGS_BLOCK`` entries at a time, so the block of ``g``, ``d`` and the new pair stays
      in cache.

    The two forms are equal in exact arithmetic and differ by rounding (relative 1e-15 on
    the test problems).  Both kernels are compiled with ``fastmath={"reassoc"}`` (see
    :mod:`nsolve._jit`) so that the reductions vectorise; the summation order is fixed by
    the compiled code (and the block size), so runs are reproducible and the interpreted and
    compiled solvers, which call the same kernel, agree bit for bit.  That agreement rests
    on LLVM vectorising each loop the same way inside the compiled solvers (where the kernel
    is inlined) as on its own: ``tests/test_bridge.py`` and ``tests/test_compiled.py``
    check it.  A restructuring that looked harmless (scaling by gamma in the first loop's
    last pass) broke it at the 1e-11 level and was reverted.

    Returns
    -------
    updated : bool
        False when the curvature guard rejected the pair (``s^T y`` not safely positive).
    step_inf, x_inf : float
        :math:`\\max_i |x_{new,i} - x_i|` and :math:`\\max_i |x_{new,i}|`, the values of
        :func:`nsolve._kernels.vector.step_stats` (the xtol test), taken in the store pass.
    """
    # Written out in one function: every call of a helper taking arrays costs reference
    # counting, a third of the kernel at n = 2.
    n = x.shape[0]
    free = lbfgs_free_row(ring, state)
    step_inf, x_inf = _lbfgs_store_block(S, Y, free, x, x_new, g, g_new, 0, n, 0.0, 0.0)
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
    count = state[0]
    if updated:
        # (indexed in place: a view costs reference counting, visible at small n)
        gram[0, free, free] = sy
        gram[1, free, free] = yy
        work[6, free] = 1.0 / sy  # rho
        count = _lbfgs_push(ring, state, free)
    if count == 0:
        for i in range(n):
            d[i] = -g[i]
    else:
        newest = ring[count - 1]
        if updated:
            dot_next = sg  # s'g of the new pair, from the store pass
            for i in range(n):
                d[i] = g[i]
        else:
            # the copy and the dot product in separate loops: fused, the reduction was
            # vectorised differently inside a compiled solver (where LLVM knows which arrays
            # may overlap) than in this kernel on its own, and the two paths' iterates
            # parted in the last bit after a rejected pair (found with backtracking)
            for i in range(n):
                d[i] = g[i]
            dot_next = 0.0
            for i in range(n):
                dot_next += S[newest, i] * g[i]
        # First loop, newest to oldest; d holds q.
        for idx in range(count - 1, -1, -1):
            k = ring[idx]
            ak = work[6, k] * dot_next
            work[4, k] = ak
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
        gamma = 1.0 / (work[6, newest] * gram[1, newest, newest])
        oldest = ring[0]
        dot_next = 0.0
        for i in range(n):
            ri = gamma * d[i]
            d[i] = ri
            dot_next += Y[oldest, i] * ri
        # Second loop, oldest to newest; d holds r, negated on the last pass.
        for idx in range(count):
            k = ring[idx]
            coef = work[4, k] - work[6, k] * dot_next
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


@kernel(fastmath={"reassoc"})
def lbfgs_gram_update_direction_inplace(S, Y, gram, work, ring, state, x, x_new, g, g_new, d, curvature_eps):
    """:func:`lbfgs_update_direction_inplace` in the Gram form (the same arguments, results and
    state; see its notes): two blocked passes over the history instead of :math:`2m`.

    Used when :func:`lbfgs_gram_form` says so (``state[2] == 1``, long histories).  A
    separate kernel, so that a run that never needs it never compiles it.
    """
    free = lbfgs_free_row(ring, state)
    count = state[0]
    sy, yy, ss, step_inf, x_inf = _lbfgs_store_gram_pass(S, Y, ring, count, free, x, x_new, g, g_new, work)
    updated = sy > curvature_eps * np.sqrt(ss * yy)
    if updated:
        gram[0, free, free] = sy
        gram[1, free, free] = yy
        work[6, free] = 1.0 / sy  # rho
        for idx in range(count):
            k = ring[idx]
            gram[0, k, free] = work[2, k]
            gram[1, k, free] = work[3, k]
            gram[1, free, k] = work[3, k]
        count = _lbfgs_push(ring, state, free)
    if count == 0:
        for i in range(x.shape[0]):
            d[i] = -g[i]
    else:
        _lbfgs_gram_direction(S, Y, gram, work, ring, count, g, d)
    return updated, step_inf, x_inf


@kernel
def _lbfgs_push(ring, state, free):
    """Make row ``free`` the newest pair of the ring (dropping the oldest when ``m`` are kept);
    returns the new count."""
    count = state[0]
    m = state[1]
    if count == m:
        for k in range(m - 1):
            ring[k] = ring[k + 1]
        ring[m - 1] = free
    else:
        ring[count] = free
        count += 1
    state[0] = count
    return count


@kernel(inline="always")
def _lbfgs_store_block(S, Y, free, x, x_new, g, g_new, lo, hi, step_inf, x_inf):
    """Entries ``lo:hi``: the pair into row ``free`` of ``S``, ``Y`` and the step accepted
    (``x``, ``g`` <- ``x_new``, ``g_new``); returns the running ``(step_inf, x_inf)``.

    No sum here: ``x_new`` may be ``S[free]`` itself, and a loop whose operands may overlap
    runs scalar, which would change the order of a vectorised sum; the step's inf-norms are
    maxima, exact in any order.  (Rows indexed in place: a view costs reference counting,
    a tenth of an iteration at n = 2.)
    """
    for i in range(lo, hi):
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
    return step_inf, x_inf


@kernel(fastmath={"reassoc"})
def _lbfgs_store_gram_pass(S, Y, ring, count, free, x, x_new, g, g_new, work):
    """Gram form, first pass: per block, store the pair and accept the step, then the
    inner products.  Leaves :math:`s_k^T g, y_k^T g, s_k^T y, y_k^T y` in ``work[0:4, k]``
    for the rows in use and the new pair's (``k = free``); returns
    ``(s'y, y'y, s's, step_inf, x_inf)``."""
    n = x.shape[0]
    for idx in range(count):
        k = ring[idx]
        for r in range(4):
            work[r, k] = 0.0
    Sf = S[free]
    Yf = Y[free]
    step_inf = 0.0
    x_inf = 0.0
    sy = 0.0
    yy = 0.0
    ss = 0.0
    sg = 0.0
    yg = 0.0
    for lo in range(0, n, LBFGS_BLOCK):
        hi = min(n, lo + LBFGS_BLOCK)
        step_inf, x_inf = _lbfgs_store_block(S, Y, free, x, x_new, g, g_new, lo, hi, step_inf, x_inf)
        sb = Sf[lo:hi]
        yb = Yf[lo:hi]
        gb = g[lo:hi]
        b = hi - lo
        a0 = 0.0
        a1 = 0.0
        a2 = 0.0
        a3 = 0.0
        a4 = 0.0
        for i in range(b):
            si = sb[i]
            yi = yb[i]
            gi = gb[i]
            a0 += si * yi
            a1 += yi * yi
            a2 += si * si
            a3 += si * gi
            a4 += yi * gi
        sy += a0
        yy += a1
        ss += a2
        sg += a3
        yg += a4
        idx = 0
        while idx < count:
            # two rows at a time (twice the loads in flight per loop); an odd last row is
            # paired with itself, its second loads hitting the cache, and counted once
            k = ring[idx]
            k2 = ring[idx + 1] if idx + 1 < count else k
            sk = S[k, lo:hi]
            yk = Y[k, lo:hi]
            sk2 = S[k2, lo:hi]
            yk2 = Y[k2, lo:hi]
            c0 = 0.0
            c1 = 0.0
            c2 = 0.0
            c3 = 0.0
            e0 = 0.0
            e1 = 0.0
            e2 = 0.0
            e3 = 0.0
            for i in range(b):
                gi = gb[i]
                yi = yb[i]
                u = sk[i]
                v = yk[i]
                c0 += u * gi
                c1 += v * gi
                c2 += u * yi
                c3 += v * yi
                u = sk2[i]
                v = yk2[i]
                e0 += u * gi
                e1 += v * gi
                e2 += u * yi
                e3 += v * yi
            work[0, k] += c0
            work[1, k] += c1
            work[2, k] += c2
            work[3, k] += c3
            if k2 != k:
                work[0, k2] += e0
                work[1, k2] += e1
                work[2, k2] += e2
                work[3, k2] += e3
            idx += 2
    work[0, free] = sg
    work[1, free] = yg
    return sy, yy, ss, step_inf, x_inf


@kernel(fastmath={"reassoc"})
def _lbfgs_gram_direction(S, Y, gram, work, ring, count, g, d):
    """Gram form: the recursion's scalars from the Gram matrices, then ``d`` in one blocked
    pass (``count >= 1``; ``work[0:2]`` from :func:`_lbfgs_store_gram_pass`)."""
    n = g.shape[0]
    SY = gram[0]
    YY = gram[1]
    sg_k = work[0]
    yg_k = work[1]
    alpha = work[4]
    coef = work[5]  # a_k - b_k
    rho = work[6]
    newest = ring[count - 1]
    gamma = 1.0 / (rho[newest] * YY[newest, newest])
    # a_i from the newest pair down, then a_i - b_i from the oldest up
    for idx in range(count - 1, -1, -1):
        k = ring[idx]
        t = sg_k[k]
        for jdx in range(idx + 1, count):
            j = ring[jdx]
            t -= alpha[j] * SY[k, j]
        alpha[k] = rho[k] * t
    for idx in range(count):
        k = ring[idx]
        t = yg_k[k]
        for jdx in range(count):
            j = ring[jdx]
            t -= alpha[j] * YY[k, j]
        t *= gamma
        for ldx in range(idx):
            j = ring[ldx]
            t += coef[j] * SY[j, k]
        coef[k] = alpha[k] - rho[k] * t
    for lo in range(0, n, LBFGS_BLOCK):
        hi = min(n, lo + LBFGS_BLOCK)
        db = d[lo:hi]
        gb = g[lo:hi]
        b = hi - lo
        for i in range(b):
            db[i] = -gamma * gb[i]
        idx = 0
        while idx < count:
            # two rows at a time: half the loads and stores of the block of d; an odd last
            # row is paired with itself at coefficient zero (adding zeros: the same values)
            k = ring[idx]
            k2 = ring[idx + 1] if idx + 1 < count else k
            cy = gamma * alpha[k]
            cs = -coef[k]
            cy2 = gamma * alpha[k2] if k2 != k else 0.0
            cs2 = -coef[k2] if k2 != k else 0.0
            sk = S[k, lo:hi]
            yk = Y[k, lo:hi]
            sk2 = S[k2, lo:hi]
            yk2 = Y[k2, lo:hi]
            for i in range(b):
                db[i] += (cy * yk[i] + cs * sk[i]) + (cy2 * yk2[i] + cs2 * sk2[i])
            idx += 2
