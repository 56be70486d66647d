r"""Numba kernels for the L2-penalised logistic and multinomial (softmax) objectives.

Everything here takes arrays and scalars only; the Python wrapper
:class:`nsolve.models.logistic.LogisticObjective` validates the data, owns the buffers,
adds the (cheap, :math:`O(p)`) penalty terms and forms dense Hessians with BLAS.

Objectives (data term only; the penalty is added by the caller)
----------------------------------------------------------------
Binary, with labels :math:`y_i \in \{0, 1\}`, weights :math:`s_i \ge 0` and margin
:math:`z_i = x_i^T w + b`:

.. math::

    L(w, b) = \sum_i s_i \left[\log(1 + e^{z_i}) - y_i z_i\right]
            = \sum_i s_i \log\left(1 + e^{-m_i}\right), \qquad m_i = (2 y_i - 1) z_i .

Gradient: :math:`\nabla_w L = \sum_i s_i (\sigma(z_i) - y_i) x_i` and
:math:`\partial_b L = \sum_i s_i (\sigma(z_i) - y_i)`.  Hessian of the data term:
:math:`\tilde X^T D \tilde X` with :math:`\tilde X = [X, 1]` and
:math:`D = \mathrm{diag}(s_i \sigma(z_i)(1 - \sigma(z_i)))`.

Multinomial, with :math:`K` classes, labels :math:`y_i \in \{0, \dots, K-1\}`, parameters
``[W.ravel(), b]`` (``W`` of shape ``(K, p)`` in C order, then ``K`` intercepts) and
:math:`z_{ik} = w_k^T x_i + b_k`:

.. math::

    L(W, b) = \sum_i s_i \left[\operatorname{logsumexp}(z_i) - z_{i y_i}\right],
    \qquad \nabla_{w_k} L = \sum_i s_i (\pi_{ik} - [y_i = k])\, x_i ,

with :math:`\pi_i = \operatorname{softmax}(z_i)`.  Hessian of the data term: block
:math:`(k, l)` is :math:`\sum_i s_i (\pi_{ik}\delta_{kl} - \pi_{ik}\pi_{il})\, \tilde x_i \tilde x_i^T`.

Numerics
--------
* Binary loss and residual come from one :math:`e = \exp(-|m|)`:
  :math:`\log(1 + e^{-m}) = \max(-m, 0) + \operatorname{log1p}(e)` and
  :math:`\sigma(-m) = e / (1 + e)` (``m >= 0``) or :math:`1 / (1 + e)` (``m < 0``); nothing
  overflows for any finite margin and both are accurate to relative rounding.  The curvature
  is :math:`\sigma(z)(1 - \sigma(z)) = e / (1 + e)^2`.
* Softmax uses the max-shift and :math:`\log \sum_k e^{z_k - z_{\max}} =
  \operatorname{log1p}(\sum_{k \ne k_{\max}} e^{z_k - z_{\max}})`, so confident rows keep
  their (tiny) loss to relative accuracy.
* ``exp`` and ``log1p`` are the branch-free versions of :mod:`nsolve.models._elementary`
  (about one ulp, compiled with FMA contraction), so the per-row loss terms of a block of
  rows compile to SIMD code.
* ``X`` may be float32 or float64; every product is formed and accumulated in float64.

Speed: one read of ``X``
------------------------
A fused pass reads each row of ``X`` from memory once.  Rows are processed in blocks of
:func:`block_rows` rows (about 128 KB, so the block stays in the core's L2 cache): the
block's margins, then its loss terms (a vectorised loop over the block), then its gradient
contributions, re-reading the block from cache, eight rows per sweep over the gradient
(rows of 6 to 12 entries, too short to fill a vector loop, four at a time as one
contiguous run; :func:`_block_grad`); the softmax pass does the same class by class, and so
do the dense Hessian-vector products.  Blocks are
addressed through slices: an index computed at run time needs a negative-index check that
keeps LLVM from vectorising the loop around it.

Sums and dot products (:func:`_dot`, :func:`_sum`, :func:`_dot4x4`, :func:`_sdot`,
:func:`_col_dot`) are the only kernels compiled with a
floating-point flag: ``fastmath={"reassoc"}``, which lets LLVM split a sum over several
SIMD lanes (without it a dot product is a chain of dependent scalar additions, three times
slower than the memory read it is fused with).  No other fast-math liberty is taken here (no
``nnan``/``ninf``, no approximate functions, no contraction outside the polynomial ``exp``
and ``log1p``, see :mod:`nsolve.models._elementary`); the result is a correctly
rounded sum in a different, fixed order: deterministic for a given machine and chunking,
and within the usual :math:`O(p\,\epsilon) \sum |x_j w_j|` bound of any summation order.

Dense Hessians (:func:`binary_hess_dense`, :func:`multi_hess_pairs_dense`) transpose row
blocks into scratch columns and form every entry as a dot product of two columns, four by
four (:func:`_dot4x4`, a register tile); they replace BLAS, whose per-call cost and
threads dominate small and medium problems (and stall on a busy machine).

Layouts and parallelism
-----------------------
Each operation has a *worker* that processes the rows ``lo:hi`` (optionally through an
index array ``rows`` for mini-batches) and adds into caller-provided accumulators, in one
of three layouts:

* ``_dense``: C-ordered dense ``X`` (blocks of rows, as above);
* ``_fblock``: Fortran-ordered dense ``X``, processed ``_BLOCK`` rows at a time column by
  column (contiguous column ``axpy``s build the block's margins, contiguous column dots
  accumulate its gradient while the block is still in cache).  ``X`` is never copied;
* ``_csr``: CSR ``X`` given as ``(indptr, indices, data)``.

Each worker has a ``_par`` driver that splits the rows into ``n_chunks`` contiguous
chunks, runs them in a ``prange`` with one accumulator row (``G[c]``) and one loss slot
(``L[c]``) per chunk, and leaves the (deterministic, in chunk order) reduction to the
caller.  With one chunk the caller invokes the worker directly and no thread pool is
touched.

Per-row *state* (binary: :math:`d_i = s_i \sigma(z_i)(1 - \sigma(z_i))`; multinomial: the
probabilities :math:`\pi_i`) is optionally written by the fused loss/gradient pass so that
Hessian products at the same point need no new margin computation.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from nsolve._jit import kernel, parallel_kernel
from nsolve.models._elementary import exp_nonpos, log1p_unit

#: Rows per block of the Fortran-order workers.
_BLOCK = 1024
#: Elements of ``X`` per row block of the C-order and CSR workers (128 KB of float64).
_BLOCK_ELEMS = 16384
#: Rows per transposed block of the compiled dense Hessians.
_HESS_ROWS = 2048

#: Reductions may be reassociated (split over SIMD lanes); nothing else is relaxed.
_reduction = kernel(fastmath={"reassoc"})


# --------------------------------------------------------------------------------------
# scalar, row and block primitives
# --------------------------------------------------------------------------------------


@kernel
def block_rows(p):
    """Rows per block for rows of ``p`` stored entries: about ``_BLOCK_ELEMS`` entries, 16 to 1024 rows."""
    return max(16, min(1024, _BLOCK_ELEMS // max(p, 1)))


@kernel
def _binary_terms_block(zb, sy, lb, db, nb):
    r"""Binary loss terms of a block of rows (one vectorised loop).

    On entry ``zb[t]`` is the margin :math:`z_t` and ``sy[t] = s_t (2 y_t - 1)`` the signed
    weight.  On exit ``lb[t] = s_t \log(1 + e^{-m_t})`` (:math:`m_t = (2y_t - 1) z_t`),
    ``zb[t] = s_t (\sigma(z_t) - y_t)`` and ``db[t] = s_t \sigma(z_t)(1 - \sigma(z_t))``,
    all from :math:`e = e^{-|m_t|}` (see the module notes).  A zero weight gives zeros.
    The body is written inline: a helper returning a tuple is not inlined by LLVM and
    would keep the loop scalar.
    """
    for t in range(nb):
        syt = sy[t]
        s = abs(syt)
        sgn = 1.0 if syt >= 0.0 else -1.0
        m = sgn * zb[t]
        e = exp_nonpos(-abs(m))
        inv = 1.0 / (1.0 + e)
        lb[t] = s * (max(-m, 0.0) + log1p_unit(e))
        num = e if m >= 0.0 else 1.0
        zb[t] = -syt * (num * inv)
        db[t] = s * ((e * inv) * inv)


@kernel
def softmax_terms(z, yi, prob):
    r"""Loss of one multinomial term; writes the softmax probabilities into ``prob``.

    Returns :math:`\operatorname{logsumexp}(z) - z_{y_i}` and sets
    :math:`\pi_k = e^{z_k} / \sum_l e^{z_l}`.
    """
    n_classes = z.shape[0]
    kmax = 0
    zmax = z[0]
    for k in range(1, n_classes):
        if z[k] > zmax:
            zmax = z[k]
            kmax = k
    for k in range(n_classes):
        prob[k] = exp_nonpos(z[k] - zmax)
    prob[kmax] = 0.0
    rest = 0.0
    for k in range(n_classes):
        rest += prob[k]
    prob[kmax] = 1.0
    inv = 1.0 / (1.0 + rest)
    for k in range(n_classes):
        prob[k] *= inv
    lse = log1p_unit(rest) if rest <= 1.0 else np.log1p(rest)
    return lse + (zmax - z[yi])


@_reduction
def _dot(x, w, off):
    """Return ``sum_j x[j] * w[off + j]`` in float64 (reassociated: SIMD lanes)."""
    n = x.shape[0]
    ws = w[off : off + n]
    s = 0.0
    for j in range(n):
        s += x[j] * ws[j]
    return s


@_reduction
def _sum(a, n):
    """Return ``sum_{t < n} a[t]`` (reassociated: SIMD lanes)."""
    s = 0.0
    for t in range(n):
        s += a[t]
    return s


@_reduction
def _dot4x4(x0, x1, x2, x3, a0, a1, a2, a3):
    """The 16 dot products ``x_i . a_j`` in one sweep (a 4 x 4 register tile: 8 loads per
    16 multiply-adds per SIMD step)."""
    s00 = 0.0
    s01 = 0.0
    s02 = 0.0
    s03 = 0.0
    s10 = 0.0
    s11 = 0.0
    s12 = 0.0
    s13 = 0.0
    s20 = 0.0
    s21 = 0.0
    s22 = 0.0
    s23 = 0.0
    s30 = 0.0
    s31 = 0.0
    s32 = 0.0
    s33 = 0.0
    for t in range(x0.shape[0]):
        u0 = x0[t]
        u1 = x1[t]
        u2 = x2[t]
        u3 = x3[t]
        v0 = a0[t]
        v1 = a1[t]
        v2 = a2[t]
        v3 = a3[t]
        s00 += u0 * v0
        s01 += u0 * v1
        s02 += u0 * v2
        s03 += u0 * v3
        s10 += u1 * v0
        s11 += u1 * v1
        s12 += u1 * v2
        s13 += u1 * v3
        s20 += u2 * v0
        s21 += u2 * v1
        s22 += u2 * v2
        s23 += u2 * v3
        s30 += u3 * v0
        s31 += u3 * v1
        s32 += u3 * v2
        s33 += u3 * v3
    return (s00, s01, s02, s03, s10, s11, s12, s13, s20, s21, s22, s23, s30, s31, s32, s33)


@kernel
def _gram_upper(DT, AT, start, m, a_lo, a_hi, H, packed, hp):
    r"""Add :math:`\sum_{t < m} DT[a, t]\, AT[b, start + t]` for ``a_lo <= a < a_hi``, ``a <= b < q``:
    into ``H[a, b]``, or, when ``packed``, into ``hp[tri(a, b)]`` (row-major upper triangle of
    a ``q x q`` matrix).  Full 4 x 4 tiles use :func:`_dot4x4`, the edges :func:`_dot`."""
    q = AT.shape[0]
    for a0 in range(a_lo, a_hi, 4):
        na = min(4, a_hi - a0)
        for b0 in range(a0, q, 4):
            nbb = min(4, q - b0)
            if na == 4 and nbb == 4:
                tile = _dot4x4(DT[a0][:m], DT[a0 + 1][:m], DT[a0 + 2][:m], DT[a0 + 3][:m],
                               AT[b0][start : start + m], AT[b0 + 1][start : start + m],
                               AT[b0 + 2][start : start + m], AT[b0 + 3][start : start + m])
                for i in range(4):
                    a = a0 + i
                    row = a * q - a * (a - 1) // 2 - a
                    for j in range(4):
                        b = b0 + j
                        if b >= a:
                            if packed:
                                hp[row + b] += tile[4 * i + j]
                            else:
                                H[a, b] += tile[4 * i + j]
            else:
                for i in range(na):
                    a = a0 + i
                    row = a * q - a * (a - 1) // 2 - a
                    for b in range(max(a, b0), b0 + nbb):
                        v = _dot(DT[a][:m], AT[b][start : start + m], 0)
                        if packed:
                            hp[row + b] += v
                        else:
                            H[a, b] += v


@kernel
def _daxpy(g, off, a, x):
    """``g[off + j] += a * x[j]`` for every ``j``."""
    n = x.shape[0]
    gs = g[off : off + n]
    for j in range(n):
        gs[j] += a * x[j]


@kernel
def _sdot(data, indices, lo, hi, w, off):
    """Return ``sum_t data[t] * w[off + indices[t]]`` over ``t in lo:hi``.

    The position ``t`` runs unsigned, and ``LogisticObjective`` passes int32 column indices as
    uint32 (the same bytes): with signed indices every access carries a negative-index
    wrap-around test, which made these gathers twice as slow as scipy.sparse's.  Summed in
    order (a vectorised gather is slower than scalar loads on the machines measured)."""
    ws = w[off:]
    s = 0.0
    for t in range(np.uint64(lo), np.uint64(hi)):
        s += data[t] * ws[indices[t]]
    return s


@kernel
def _saxpy(g, off, a, data, indices, lo, hi):
    """``g[off + indices[t]] += a * data[t]`` over ``t in lo:hi`` (unsigned positions, as :func:`_sdot`)."""
    gs = g[off:]
    for t in range(np.uint64(lo), np.uint64(hi)):
        gs[indices[t]] += a * data[t]


@kernel
def _col_axpy(xc, rows, use_rows, start, nb, a, z):
    """``z[t] += a * xc[i_t]`` for the block rows ``i_t`` (``t < nb``) of the column ``xc``."""
    if use_rows:
        rs = rows[start : start + nb]
        for t in range(nb):
            z[t] += a * xc[rs[t]]
    else:
        xs = xc[start : start + nb]
        for t in range(nb):
            z[t] += a * xs[t]


@_reduction
def _col_dot(xc, rows, use_rows, start, nb, r):
    """Return ``sum_t xc[i_t] * r[t]`` over the block rows of the column ``xc``."""
    s = 0.0
    if use_rows:
        rs = rows[start : start + nb]
        for t in range(nb):
            s += xc[rs[t]] * r[t]
    else:
        xs = xc[start : start + nb]
        for t in range(nb):
            s += xs[t] * r[t]
    return s


@kernel
def super_rows(p):
    """Rows per super-row of :func:`_block_grad` for rows of ``p`` entries: 4 for
    ``6 <= p <= 12``, else 1 (measured on a Zen 5 core, gradient of a block from cache: the
    per-entry select of a 4-row super-row beats the eight-row ``axpy`` only there; the
    two-row super-row it replaced was slower than both everywhere)."""
    if 6 <= p <= 12:
        return 4
    return 1


@kernel
def _block_margins(Xb, w, b, zb):
    """``zb[t] = b + Xb[t] . w[:p]`` for every row of the block ``Xb``."""
    for t in range(Xb.shape[0]):
        zb[t] = b + _dot(Xb[t], w, 0)


@kernel
def _block_grad(Xb, r, GA, R):
    r"""Add :math:`\sum_t r_t x_t` for the rows of the C-contiguous block ``Xb`` into ``GA``.

    ``R = 1`` (:func:`super_rows`): eight rows per sweep over ``GA`` (an eighth of the
    accumulator loads and stores, eight independent products per entry), written inline:
    LLVM does not inline a helper taking sixteen arrays, and the call per eight rows cost
    more than the sweep at ``p = 20``.  ``R = 4`` (rows of 6 to 12 entries, too short to fill
    a vector loop): four consecutive rows are one contiguous run of ``4 p`` entries, ``GA``
    (length ``4 p``) accumulates ``r_{t(k)} x_k`` over the run, the residual picked per entry
    by comparisons that compile to vector blends; the caller folds the four slices of ``GA``
    with :func:`_fold`.
    """
    nb, p = Xb.shape
    if R == 1:
        n8 = nb - nb % 8
        for t in range(0, n8, 8):
            x0 = Xb[t]
            x1 = Xb[t + 1]
            x2 = Xb[t + 2]
            x3 = Xb[t + 3]
            x4 = Xb[t + 4]
            x5 = Xb[t + 5]
            x6 = Xb[t + 6]
            x7 = Xb[t + 7]
            a0 = r[t]
            a1 = r[t + 1]
            a2 = r[t + 2]
            a3 = r[t + 3]
            a4 = r[t + 4]
            a5 = r[t + 5]
            a6 = r[t + 6]
            a7 = r[t + 7]
            for j in range(p):
                GA[j] += ((a0 * x0[j] + a1 * x1[j]) + (a2 * x2[j] + a3 * x3[j])) + (
                    (a4 * x4[j] + a5 * x5[j]) + (a6 * x6[j] + a7 * x7[j])
                )
        for t in range(n8, nb):
            _daxpy(GA, 0, r[t], Xb[t])
        return
    M = R * p
    nsr = nb // R
    Xf = Xb.reshape(nb * p)
    p1 = p
    p2 = 2 * p
    p3 = 3 * p
    for sr in range(nsr):
        seg = Xf[sr * M : (sr + 1) * M]
        rs = r[sr * R : (sr + 1) * R]
        r0 = rs[0]
        r1 = rs[1]
        r2 = rs[2]
        r3 = rs[3]
        for k in range(M):
            rr = r0 if k < p1 else (r1 if k < p2 else (r2 if k < p3 else r3))
            GA[k] += rr * seg[k]
    for t in range(nsr * R, nb):
        _daxpy(GA, 0, r[t], Xb[t])


@kernel
def _fold(GA, R, p, g, off):
    """``g[off:off+p] += sum_t GA[t p:(t+1) p]`` over the ``R`` slices."""
    for t in range(R):
        _daxpy(g, off, 1.0, GA[t * p : (t + 1) * p])


@kernel
def _gather_rows(X, rb, Xg):
    """``Xg[t] = X[rb[t]]`` for ``t < len(rb)`` (a contiguous copy of a mini-batch block)."""
    for t in range(rb.shape[0]):
        Xg[t] = X[rb[t]]


@kernel
def _row_index(rows, use_rows, k):
    if use_rows:
        return rows[k]
    return k


@kernel
def _chunk_bounds(m, n_chunks, c):
    """Rows ``[lo, hi)`` of chunk ``c`` when ``m`` rows are split into ``n_chunks``."""
    return c * m // n_chunks, (c + 1) * m // n_chunks


@kernel
def _block_values(a, rows, use_rows, start, nb, buf):
    """The entries of the per-row vector ``a`` for the block rows: a view of ``a`` for
    contiguous rows, else gathered into ``buf``."""
    if not use_rows:
        return a[start : start + nb]
    for t in range(nb):
        buf[t] = a[rows[start + t]]
    return buf[:nb]


@kernel
def _scatter_state(db, rows, use_rows, start, nb, state):
    for t in range(nb):
        state[_row_index(rows, use_rows, start + t)] = db[t]


# --------------------------------------------------------------------------------------
# binary: fused loss + gradient (+ optional curvature state)
# --------------------------------------------------------------------------------------


@kernel
def binary_fg_dense(X, ysw, w, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, g):
    r"""Fused binary loss/gradient over rows ``lo:hi`` of C-ordered ``X``.

    The labels and weights come as one vector, ``ysw[i] = s_i (2 y_i - 1)`` (the sign is the
    class, the magnitude the weight: one stream besides ``X`` instead of two).  Adds
    :math:`\sum_k s_i (\sigma(z_i) - y_i) [x_i, 1]` (``i = rows[k]`` if ``use_rows``
    else ``k``) into ``g`` when ``need_grad``, writes :math:`d_i = s_i \sigma(1-\sigma)` into
    ``state[i]`` when ``want_state`` and returns :math:`\sum_k s_i \ell_i`.  Each block of
    rows is read from memory once (margins), then from cache (gradient); mini-batch rows are
    first gathered into a contiguous block.  Blocks are addressed by slices so that no row
    index needs a negative-index check (which would keep the loops scalar).
    """
    p = X.shape[1]
    b = w[p] if fit_intercept else 0.0
    bmax = block_rows(p)
    R = super_rows(p)
    zb = np.empty(bmax)
    sy = np.empty(bmax)
    lb = np.empty(bmax)
    db = np.empty(bmax)
    GA = np.zeros(R * p)
    Xg = np.empty((bmax if use_rows else 0, p), dtype=X.dtype)
    loss = 0.0
    gb = 0.0
    for start in range(lo, hi, bmax):
        nb = min(bmax, hi - start)
        if use_rows:
            rb = rows[start : start + nb]
            _gather_rows(X, rb, Xg)
            Xb = Xg[:nb]
        else:
            Xb = X[start : start + nb]
        syb = _block_values(ysw, rows, use_rows, start, nb, sy)
        _block_margins(Xb, w, b, zb)
        _binary_terms_block(zb, syb, lb, db, nb)
        loss += _sum(lb, nb)
        if want_state:
            if use_rows:
                for t in range(nb):
                    state[rb[t]] = db[t]
            else:
                st = state[start : start + nb]
                for t in range(nb):
                    st[t] = db[t]
        if need_grad:
            _block_grad(Xb, zb, GA, R)
            gb += _sum(zb, nb)
    if need_grad:
        _fold(GA, R, p, g, 0)
        if fit_intercept:
            g[p] += gb
    return loss


@kernel
def binary_fg_fblock(X, ysw, w, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, g):
    """As :func:`binary_fg_dense` for Fortran-ordered ``X``.

    Rows are processed ``_BLOCK`` at a time column by column: the block's margins are built
    with contiguous column ``axpy``s, then the gradient with contiguous column dots while the
    block is still in cache.
    """
    p = X.shape[1]
    XT = X.T  # C-ordered view: XT[j] is column j, contiguous
    b = w[p] if fit_intercept else 0.0
    zb = np.empty(_BLOCK)
    sy = np.empty(_BLOCK)
    lb = np.empty(_BLOCK)
    db = np.empty(_BLOCK)
    loss = 0.0
    gb = 0.0
    start = lo
    while start < hi:
        nb = min(_BLOCK, hi - start)
        for t in range(nb):
            zb[t] = b
        for j in range(p):
            _col_axpy(XT[j], rows, use_rows, start, nb, w[j], zb)
        syb = _block_values(ysw, rows, use_rows, start, nb, sy)
        _binary_terms_block(zb, syb, lb, db, nb)
        loss += _sum(lb, nb)
        if want_state:
            _scatter_state(db, rows, use_rows, start, nb, state)
        if need_grad:
            for j in range(p):
                g[j] += _col_dot(XT[j], rows, use_rows, start, nb, zb)
            gb += _sum(zb, nb)
        start += nb
    if fit_intercept and need_grad:
        g[p] += gb
    return loss


@kernel
def binary_fg_csr(
    indptr, indices, data, ysw, w, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, g
):
    """As :func:`binary_fg_dense` for CSR ``X`` given by ``(indptr, indices, data)``."""
    p = g.shape[0] - (1 if fit_intercept else 0)
    b = w[p] if fit_intercept else 0.0
    m_all = indptr.shape[0] - 1
    bmax = block_rows(max(1, data.shape[0] // max(1, m_all)))
    zb = np.empty(bmax)
    sy = np.empty(bmax)
    lb = np.empty(bmax)
    db = np.empty(bmax)
    loss = 0.0
    gb = 0.0
    start = lo
    while start < hi:
        nb = min(bmax, hi - start)
        for t in range(nb):
            i = _row_index(rows, use_rows, start + t)
            zb[t] = b + _sdot(data, indices, indptr[i], indptr[i + 1], w, 0)
        syb = _block_values(ysw, rows, use_rows, start, nb, sy)
        _binary_terms_block(zb, syb, lb, db, nb)
        loss += _sum(lb, nb)
        if want_state:
            _scatter_state(db, rows, use_rows, start, nb, state)
        if need_grad:
            for t in range(nb):
                i = _row_index(rows, use_rows, start + t)
                _saxpy(g, 0, zb[t], data, indices, indptr[i], indptr[i + 1])
            gb += _sum(zb, nb)
        start += nb
    if fit_intercept and need_grad:
        g[p] += gb
    return loss


@parallel_kernel
def binary_fg_dense_par(X, ysw, w, fit_intercept, rows, use_rows, m, need_grad, want_state, state, G, L):
    """Chunked :func:`binary_fg_dense` over ``m`` rows: chunk ``c`` adds into ``G[c]``, ``L[c]``."""
    nc = L.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        L[c] = binary_fg_dense(
            X, ysw, w, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, G[c]
        )


@parallel_kernel
def binary_fg_fblock_par(X, ysw, w, fit_intercept, rows, use_rows, m, need_grad, want_state, state, G, L):
    """Chunked :func:`binary_fg_fblock`."""
    nc = L.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        L[c] = binary_fg_fblock(
            X, ysw, w, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, G[c]
        )


@parallel_kernel
def binary_fg_csr_par(
    indptr, indices, data, ysw, w, fit_intercept, rows, use_rows, m, need_grad, want_state, state, G, L
):
    """Chunked :func:`binary_fg_csr`."""
    nc = L.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        L[c] = binary_fg_csr(
            indptr, indices, data, ysw, w, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state,
            state, G[c],
        )


# --------------------------------------------------------------------------------------
# binary: Hessian-vector product from the state d_i (dense Hessians are formed with BLAS
# by the caller; the CSR Hessian is below)
# --------------------------------------------------------------------------------------


@kernel
def binary_hessp_dense(X, d, v, fit_intercept, lo, hi, out):
    r"""Add :math:`\sum_{i \in lo:hi} d_i (\tilde x_i^T v)\, \tilde x_i` into ``out``.

    Blocks of rows as in :func:`binary_fg_dense`: the block's products
    :math:`u_t = d_t \tilde x_t^T v` (:func:`_block_margins`), then their sum of rows
    :math:`\sum_t u_t x_t` from cache (:func:`_block_grad`).
    """
    p = X.shape[1]
    vb = v[p] if fit_intercept else 0.0
    bmax = block_rows(p)
    R = super_rows(p)
    ub = np.empty(bmax)
    GA = np.zeros(R * p)
    ob = 0.0
    for start in range(lo, hi, bmax):
        nb = min(bmax, hi - start)
        Xb = X[start : start + nb]
        _block_margins(Xb, v, vb, ub)
        db = d[start : start + nb]
        for t in range(nb):
            ub[t] *= db[t]
        ob += _sum(ub, nb)
        _block_grad(Xb, ub, GA, R)
    _fold(GA, R, p, out, 0)
    if fit_intercept:
        out[p] += ob


@kernel
def binary_hessp_fblock(X, d, v, fit_intercept, lo, hi, out):
    """As :func:`binary_hessp_dense` for Fortran-ordered ``X`` (column-blocked)."""
    p = X.shape[1]
    XT = X.T  # C-ordered view: XT[j] is column j, contiguous
    vb = v[p] if fit_intercept else 0.0
    norows = np.empty(0, dtype=np.intp)
    ub = np.empty(_BLOCK)
    ob = 0.0
    start = lo
    while start < hi:
        nb = min(_BLOCK, hi - start)
        for t in range(nb):
            ub[t] = vb
        for j in range(p):
            _col_axpy(XT[j], norows, False, start, nb, v[j], ub)
        for t in range(nb):
            ub[t] *= d[start + t]
        ob += _sum(ub, nb)
        for j in range(p):
            out[j] += _col_dot(XT[j], norows, False, start, nb, ub)
        start += nb
    if fit_intercept:
        out[p] += ob


@kernel
def binary_hessp_csr(indptr, indices, data, d, v, fit_intercept, lo, hi, out):
    """As :func:`binary_hessp_dense` for CSR ``X``."""
    p = out.shape[0] - (1 if fit_intercept else 0)
    vb = v[p] if fit_intercept else 0.0
    ob = 0.0
    for i in range(lo, hi):
        a = indptr[i]
        e = indptr[i + 1]
        c = d[i] * (_sdot(data, indices, a, e, v, 0) + vb)
        _saxpy(out, 0, c, data, indices, a, e)
        ob += c
    if fit_intercept:
        out[p] += ob


@parallel_kernel
def binary_hessp_dense_par(X, d, v, fit_intercept, G):
    """Chunked :func:`binary_hessp_dense` over all rows (chunk ``c`` adds into ``G[c]``)."""
    nc = G.shape[0]
    m = X.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        binary_hessp_dense(X, d, v, fit_intercept, lo, hi, G[c])


@parallel_kernel
def binary_hessp_fblock_par(X, d, v, fit_intercept, G):
    """Chunked :func:`binary_hessp_fblock`."""
    nc = G.shape[0]
    m = X.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        binary_hessp_fblock(X, d, v, fit_intercept, lo, hi, G[c])


@parallel_kernel
def binary_hessp_csr_par(indptr, indices, data, d, v, fit_intercept, G):
    """Chunked :func:`binary_hessp_csr`."""
    nc = G.shape[0]
    m = indptr.shape[0] - 1
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        binary_hessp_csr(indptr, indices, data, d, v, fit_intercept, lo, hi, G[c])


@kernel
def _transpose_block(Xs, fit_intercept, AT):
    """``AT[j, :m] = Xs[:, j]`` (and a row of ones for the intercept), float64."""
    m, p = Xs.shape
    for j in range(p):
        a = AT[j]
        for t in range(m):
            a[t] = Xs[t, j]
    if fit_intercept:
        a = AT[p]
        for t in range(m):
            a[t] = 1.0


@kernel
def _gram_rows(AT, DT, m, a0, a1, H):
    """``H[a, b] += DT[a, :m] . AT[b, :m]`` for ``a0 <= a < a1``, ``b >= a``."""
    _gram_upper(DT, AT, 0, m, a0, a1, H, False, H[0])


@kernel
def _scale_columns(AT, c, m, DT):
    """``DT[a, :m] = c[:m] * AT[a, :m]`` for every column ``a``."""
    for a in range(AT.shape[0]):
        src = AT[a]
        dst = DT[a]
        for t in range(m):
            dst[t] = c[t] * src[t]


@kernel
def binary_hess_dense(X, d, fit_intercept, lo, hi, H):
    r"""Add the upper triangle of :math:`\sum_{i \in lo:hi} d_i \tilde x_i \tilde x_i^T` into ``H``
    for dense ``X`` (any layout), without BLAS (a BLAS product costs more in calls and
    threads than in flops for small problems, and its threads stall on a busy machine).

    Blocks of up to ``_HESS_ROWS`` rows are transposed into scratch columns
    :math:`A_{:,a}` (and :math:`D A_{:,a}`), so each entry
    :math:`H_{ab} = (D A_{:,a})^T A_{:,b}` is one long vectorised dot product.
    """
    p = X.shape[1]
    q = p + (1 if fit_intercept else 0)
    w = min(_HESS_ROWS, max(hi - lo, 1))
    AT = np.empty((q, w))
    DT = np.empty((q, w))
    for start in range(lo, hi, _HESS_ROWS):
        m = min(_HESS_ROWS, hi - start)
        _transpose_block(X[start : start + m], fit_intercept, AT)
        _scale_columns(AT, d[start : start + m], m, DT)
        _gram_rows(AT, DT, m, 0, q, H)


@parallel_kernel
def binary_hess_dense_par(X, d, fit_intercept, n_chunks, H):
    """:func:`binary_hess_dense` over all rows with the rows of ``H`` split over ``n_chunks``
    threads (equal areas of the triangle); each thread transposes the row blocks itself and
    writes its own rows of ``H``."""
    p = X.shape[1]
    q = p + (1 if fit_intercept else 0)
    n = X.shape[0]
    w = min(_HESS_ROWS, max(n, 1))
    for c in prange(n_chunks):
        # row a has q - a entries: split the triangle area evenly
        a0 = q - int(np.sqrt(q * q * (n_chunks - c) / n_chunks))
        a1 = q - int(np.sqrt(q * q * (n_chunks - c - 1) / n_chunks))
        AT = np.empty((q, w))
        DT = np.empty((q, w))
        for start in range(0, n, _HESS_ROWS):
            m = min(_HESS_ROWS, n - start)
            _transpose_block(X[start : start + m], fit_intercept, AT)
            _scale_columns(AT, d[start : start + m], m, DT)
            _gram_rows(AT, DT, m, a0, a1, H)


@kernel
def binary_hess_csr(indptr, indices, data, d, fit_intercept, lo, hi, H):
    r"""Add the upper triangle of :math:`\sum_{i \in lo:hi} d_i \tilde x_i \tilde x_i^T` for CSR ``X``.

    Both triangles of each nonzero pair are folded into the upper one, so unsorted or
    duplicate column indices are fine."""
    p = H.shape[0] - (1 if fit_intercept else 0)
    for i in range(lo, hi):
        a0 = indptr[i]
        a1 = indptr[i + 1]
        di = d[i]
        for t in range(np.uint64(a0), np.uint64(a1)):
            ja = indices[t]
            ca = di * data[t]
            for u in range(np.uint64(a0), np.uint64(a1)):
                jb = indices[u]
                if ja < jb:
                    H[ja, jb] += ca * data[u]
                elif ja == jb and t <= u:
                    # diagonal: pairs (t, u) and (u, t) coincide in the upper triangle
                    H[ja, ja] += (ca * data[u]) if t == u else 2.0 * ca * data[u]
            if fit_intercept:
                H[ja, p] += ca
        if fit_intercept:
            H[p, p] += di


@parallel_kernel
def binary_hess_csr_par(indptr, indices, data, d, fit_intercept, G):
    """Chunked :func:`binary_hess_csr`."""
    nc = G.shape[0]
    m = indptr.shape[0] - 1
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        binary_hess_csr(indptr, indices, data, d, fit_intercept, lo, hi, G[c])


# --------------------------------------------------------------------------------------
# multinomial: fused loss + gradient (+ optional probabilities)
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# multinomial: fused loss + gradient (+ optional probabilities)
# --------------------------------------------------------------------------------------


@kernel
def _softmax_block(Zb, yb, sb, zy, nb, zmax, kmax, rest, lse, want_state, P):
    r"""Softmax losses of a block of rows, class by class (loops over rows vectorise).

    On entry ``Zb[c, t]`` holds the margin :math:`z_{tc}`, ``yb[t]`` the label, ``sb[t]`` the
    weight and ``zy[t]`` the label's margin :math:`z_{t y_t}` of row ``t < nb``.  Returns
    :math:`\sum_t s_t [\operatorname{logsumexp}(z_t) - z_{t y_t}]`; on exit ``P[c, t]`` holds
    the probability :math:`\pi_{tc}` when ``want_state``, and ``Zb[c, t]`` the residual
    :math:`s_t (\pi_{tc} - [y_t = c])`.  The same arithmetic as :func:`softmax_terms`, row by
    row: the first largest margin is the shift, the other exponentials are summed in class
    order, and :math:`\log(1 + \text{rest})` keeps a confident row's tiny loss.
    """
    K = Zb.shape[0]
    z0 = Zb[0]
    for t in range(nb):
        zmax[t] = z0[t]
        kmax[t] = 0
    for c in range(1, K):
        zc = Zb[c]
        for t in range(nb):
            if zc[t] > zmax[t]:
                zmax[t] = zc[t]
                kmax[t] = c
    for t in range(nb):
        rest[t] = 0.0
    for c in range(K):
        zc = Zb[c]
        for t in range(nb):
            e = exp_nonpos(zc[t] - zmax[t])  # exactly 1 for the shift class
            zc[t] = e
            rest[t] += 0.0 if kmax[t] == c else e
    loss = 0.0
    for t in range(nb):
        r = rest[t]
        lse[t] = log1p_unit(min(r, 1.0))
    for t in range(nb):
        if rest[t] > 1.0:
            lse[t] = np.log1p(rest[t])
    for t in range(nb):
        loss += sb[t] * (lse[t] + (zmax[t] - zy[t]))
    for t in range(nb):
        rest[t] = 1.0 / (1.0 + rest[t])  # from here on: the softmax normaliser
    for c in range(K):
        zc = Zb[c]
        pc = P[c]
        for t in range(nb):
            pr = zc[t] * rest[t]
            if want_state:
                pc[t] = pr
            zc[t] = sb[t] * (pr - 1.0 if yb[t] == c else pr)
    return loss


@kernel
def multi_fg_dense(
    X, y, sw, w, n_classes, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, g
):
    r"""Fused softmax loss/gradient over rows ``lo:hi`` of C-ordered ``X``.

    ``w`` is ``[W.ravel(), b]`` with ``W`` of shape ``(K, p)``; adds
    :math:`s_i(\pi_{ik} - [y_i = k]) x_i` into ``g[k*p:(k+1)*p]`` (and the intercept part into
    ``g[K*p + k]``), writes :math:`\pi_i` into ``state[i]`` when ``want_state`` and returns
    the weighted loss sum.  Blocks of rows as in :func:`binary_fg_dense`: the block's ``K``
    margins per row (:func:`_block_margins`, class by class), its softmax terms
    (:func:`_softmax_block`, vectorised over rows), then its ``K`` gradient rows from cache
    (:func:`_block_grad`); mini-batch rows are gathered into a contiguous block first.
    """
    p = X.shape[1]
    K = n_classes
    kp = K * p
    bmax = block_rows(p)
    R = super_rows(p)
    Zb = np.empty((K, bmax))
    Pb = np.empty((K, bmax) if want_state else (K, 0))
    zy = np.empty(bmax)
    zmax = np.empty(bmax)
    kmax = np.empty(bmax, dtype=np.int64)
    rest = np.empty(bmax)
    lse = np.empty(bmax)
    yb = np.empty(bmax, dtype=np.int64)
    sb = np.empty(bmax)
    GA = np.zeros((K, R * p))
    Xg = np.empty((bmax if use_rows else 0, p), dtype=X.dtype)
    loss = 0.0
    for start in range(lo, hi, bmax):
        nb = min(bmax, hi - start)
        if use_rows:
            rb = rows[start : start + nb]
            _gather_rows(X, rb, Xg)
            Xb = Xg[:nb]
        else:
            rb = rows[:0]
            Xb = X[start : start + nb]
        ys = _block_values(y, rows, use_rows, start, nb, yb)
        ss = _block_values(sw, rows, use_rows, start, nb, sb)
        for c in range(K):
            _block_margins(Xb, w[c * p : (c + 1) * p], w[kp + c] if fit_intercept else 0.0, Zb[c])
        for t in range(nb):
            zy[t] = Zb[ys[t], t]
        loss += _softmax_block(Zb, ys, ss, zy, nb, zmax, kmax, rest, lse, want_state, Pb)
        if want_state:
            for t in range(nb):
                i = rb[t] if use_rows else start + t
                for c in range(K):
                    state[i, c] = Pb[c, t]
        if need_grad:
            for c in range(K):
                _block_grad(Xb, Zb[c], GA[c], R)
                if fit_intercept:
                    g[kp + c] += _sum(Zb[c], nb)
    if need_grad:
        for c in range(K):
            _fold(GA[c], R, p, g, c * p)
    return loss


@kernel
def multi_fg_fblock(
    X, y, sw, w, n_classes, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, g
):
    """As :func:`multi_fg_dense` for Fortran-ordered ``X`` (column-blocked, see
    :func:`binary_fg_fblock`)."""
    p = X.shape[1]
    XT = X.T  # C-ordered view: XT[j] is column j, contiguous
    K = n_classes
    kp = K * p
    Zb = np.empty((K, _BLOCK))
    z = np.empty(K)
    prob = np.empty(K)
    loss = 0.0
    start = lo
    while start < hi:
        nb = min(_BLOCK, hi - start)
        for c in range(K):
            bc = w[kp + c] if fit_intercept else 0.0
            for t in range(nb):
                Zb[c, t] = bc
        for j in range(p):
            for c in range(K):
                _col_axpy(XT[j], rows, use_rows, start, nb, w[c * p + j], Zb[c])
        for t in range(nb):
            i = _row_index(rows, use_rows, start + t)
            s = sw[i]
            for c in range(K):
                z[c] = Zb[c, t]
            yi = y[i]
            loss += s * softmax_terms(z, yi, prob)
            if want_state:
                for c in range(K):
                    state[i, c] = prob[c]
            prob[yi] -= 1.0
            for c in range(K):
                Zb[c, t] = s * prob[c]  # residuals overwrite the margins
        if need_grad:
            for c in range(K):
                if fit_intercept:
                    g[kp + c] += _sum(Zb[c], nb)
                for j in range(p):
                    g[c * p + j] += _col_dot(XT[j], rows, use_rows, start, nb, Zb[c])
        start += nb
    return loss


@kernel
def _feature_major_margins(indptr, indices, data, W, b, fit_intercept, i, z):
    """``z[c] = x_i^T W[:, c] (+ b[c])`` for CSR row ``i``; ``W`` is ``(p, K)`` (feature-major)."""
    K = z.shape[0]
    for c in range(K):
        z[c] = b[c] if fit_intercept else 0.0
    for t in range(np.uint64(indptr[i]), np.uint64(indptr[i + 1])):
        v = data[t]
        wj = W[indices[t]]
        for c in range(K):
            z[c] += v * wj[c]


@kernel
def _feature_major_scatter(indptr, indices, data, r, i, G):
    """``G[j, :] += x_ij r`` for the stored entries ``j`` of CSR row ``i``; ``G`` is ``(p, K)``."""
    K = r.shape[0]
    for t in range(np.uint64(indptr[i]), np.uint64(indptr[i + 1])):
        v = data[t]
        gj = G[indices[t]]
        for c in range(K):
            gj[c] += v * r[c]


@kernel
def multi_fg_csr(
    indptr, indices, data, y, sw, w, n_classes, fit_intercept, rows, use_rows, lo, hi, need_grad,
    want_state, state, g,
):
    """As :func:`multi_fg_dense` for CSR ``X``, with ``w`` and ``g`` in *feature-major* order.

    The coefficient of feature ``j`` for class ``c`` is at ``j * K + c`` (``W`` of shape
    ``(p, K)``, raveled; the intercepts follow at ``K * p + c``), so each stored entry of a
    row reads and updates ``K`` adjacent numbers instead of gathering from ``K`` places ``p``
    apart.  :meth:`nsolve.models.LogisticObjective` converts to and from the class-major order.
    """
    K = n_classes
    kp = g.shape[0] - (K if fit_intercept else 0)
    p = kp // K
    W = w[:kp].reshape((p, K))
    b = w[kp:]
    Gw = g[:kp].reshape((p, K))
    z = np.empty(K)
    prob = np.empty(K)
    loss = 0.0
    for k in range(lo, hi):
        i = _row_index(rows, use_rows, k)
        _feature_major_margins(indptr, indices, data, W, b, fit_intercept, i, z)
        s = sw[i]
        yi = y[i]
        loss += s * softmax_terms(z, yi, prob)
        if want_state:
            for c in range(K):
                state[i, c] = prob[c]
        if need_grad:
            prob[yi] -= 1.0
            for c in range(K):
                prob[c] *= s
            _feature_major_scatter(indptr, indices, data, prob, i, Gw)
            if fit_intercept:
                for c in range(K):
                    g[kp + c] += prob[c]
    return loss


@parallel_kernel
def multi_fg_dense_par(
    X, y, sw, w, n_classes, fit_intercept, rows, use_rows, m, need_grad, want_state, state, G, L
):
    """Chunked :func:`multi_fg_dense`."""
    nc = L.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        L[c] = multi_fg_dense(
            X, y, sw, w, n_classes, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, G[c]
        )


@parallel_kernel
def multi_fg_fblock_par(
    X, y, sw, w, n_classes, fit_intercept, rows, use_rows, m, need_grad, want_state, state, G, L
):
    """Chunked :func:`multi_fg_fblock`."""
    nc = L.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        L[c] = multi_fg_fblock(
            X, y, sw, w, n_classes, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, G[c]
        )


@parallel_kernel
def multi_fg_csr_par(
    indptr, indices, data, y, sw, w, n_classes, fit_intercept, rows, use_rows, m, need_grad, want_state,
    state, G, L,
):
    """Chunked :func:`multi_fg_csr`."""
    nc = L.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        L[c] = multi_fg_csr(
            indptr, indices, data, y, sw, w, n_classes, fit_intercept, rows, use_rows, lo, hi, need_grad,
            want_state, state, G[c],
        )


# --------------------------------------------------------------------------------------
# multinomial: Hessian-vector product from the probabilities
# --------------------------------------------------------------------------------------


@kernel
def multi_hessp_dense(X, sw, P, v, fit_intercept, lo, hi, out):
    r"""Add the data-term Hessian times ``v`` over rows ``lo:hi`` into ``out``.

    With :math:`u_{ik} = v_k^T x_i + v_{b,k}`, row ``i`` contributes
    :math:`r_{ik} = s_i \pi_{ik}(u_{ik} - \sum_l \pi_{il} u_{il})` times :math:`\tilde x_i`
    to block ``k``.  Blocks of rows as in :func:`multi_fg_dense`: the block's ``u``
    (:func:`_block_margins`, class by class), its ``r`` (loops over rows), then ``K``
    gradient sweeps from cache (:func:`_block_grad`).
    """
    p = X.shape[1]
    K = P.shape[1]
    kp = K * p
    bmax = block_rows(p)
    R = super_rows(p)
    Ub = np.empty((K, bmax))
    pu = np.empty(bmax)
    GA = np.zeros((K, R * p))
    for start in range(lo, hi, bmax):
        nb = min(bmax, hi - start)
        Xb = X[start : start + nb]
        Pb = P[start : start + nb]
        for c in range(K):
            _block_margins(Xb, v[c * p : (c + 1) * p], v[kp + c] if fit_intercept else 0.0, Ub[c])
        for t in range(nb):
            pu[t] = 0.0
        for c in range(K):
            uc = Ub[c]
            for t in range(nb):
                pu[t] += Pb[t, c] * uc[t]
        sb = sw[start : start + nb]
        for c in range(K):
            uc = Ub[c]
            for t in range(nb):
                uc[t] = sb[t] * Pb[t, c] * (uc[t] - pu[t])
            _block_grad(Xb, uc, GA[c], R)
            if fit_intercept:
                out[kp + c] += _sum(uc, nb)
    for c in range(K):
        _fold(GA[c], R, p, out, c * p)


@kernel
def multi_hessp_fblock(X, sw, P, v, fit_intercept, lo, hi, out):
    """As :func:`multi_hessp_dense` for Fortran-ordered ``X`` (column-blocked)."""
    p = X.shape[1]
    XT = X.T  # C-ordered view: XT[j] is column j, contiguous
    K = P.shape[1]
    kp = K * p
    norows = np.empty(0, dtype=np.intp)
    Ub = np.empty((K, _BLOCK))
    start = lo
    while start < hi:
        nb = min(_BLOCK, hi - start)
        for c in range(K):
            vc = v[kp + c] if fit_intercept else 0.0
            for t in range(nb):
                Ub[c, t] = vc
        for j in range(p):
            for c in range(K):
                _col_axpy(XT[j], norows, False, start, nb, v[c * p + j], Ub[c])
        for t in range(nb):
            i = start + t
            pu = 0.0
            for c in range(K):
                pu += P[i, c] * Ub[c, t]
            for c in range(K):
                Ub[c, t] = sw[i] * P[i, c] * (Ub[c, t] - pu)
        for c in range(K):
            if fit_intercept:
                out[kp + c] += _sum(Ub[c], nb)
            for j in range(p):
                out[c * p + j] += _col_dot(XT[j], norows, False, start, nb, Ub[c])
        start += nb


@kernel
def multi_hessp_csr(indptr, indices, data, sw, P, v, fit_intercept, lo, hi, out):
    """As :func:`multi_hessp_dense` for CSR ``X``, with ``v`` and ``out`` in feature-major
    order (see :func:`multi_fg_csr`)."""
    K = P.shape[1]
    kp = out.shape[0] - (K if fit_intercept else 0)
    p = kp // K
    V = v[:kp].reshape((p, K))
    vb = v[kp:]
    Out = out[:kp].reshape((p, K))
    u = np.empty(K)
    for i in range(lo, hi):
        _feature_major_margins(indptr, indices, data, V, vb, fit_intercept, i, u)
        pu = 0.0
        for c in range(K):
            pu += P[i, c] * u[c]
        s = sw[i]
        for c in range(K):
            u[c] = s * P[i, c] * (u[c] - pu)
        _feature_major_scatter(indptr, indices, data, u, i, Out)
        if fit_intercept:
            for c in range(K):
                out[kp + c] += u[c]


@parallel_kernel
def multi_hessp_dense_par(X, sw, P, v, fit_intercept, G):
    """Chunked :func:`multi_hessp_dense`."""
    nc = G.shape[0]
    m = X.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        multi_hessp_dense(X, sw, P, v, fit_intercept, lo, hi, G[c])


@parallel_kernel
def multi_hessp_fblock_par(X, sw, P, v, fit_intercept, G):
    """Chunked :func:`multi_hessp_fblock`."""
    nc = G.shape[0]
    m = X.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        multi_hessp_fblock(X, sw, P, v, fit_intercept, lo, hi, G[c])


@parallel_kernel
def multi_hessp_csr_par(indptr, indices, data, sw, P, v, fit_intercept, G):
    """Chunked :func:`multi_hessp_csr`."""
    nc = G.shape[0]
    m = indptr.shape[0] - 1
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        multi_hessp_csr(indptr, indices, data, sw, P, v, fit_intercept, lo, hi, G[c])


@kernel
def row_outer_upper(X, lo, hi, fit_intercept, O):
    r"""Write the upper triangle of :math:`\tilde x_i \tilde x_i^T` (row-major, ``a <= b``) of
    the rows ``lo:hi`` of dense ``X`` into ``O[i - lo]`` (``T = q(q+1)/2`` entries, ``q = p + 1``
    with an intercept); float64 whatever ``X``'s dtype."""
    p = X.shape[1]
    q = p + (1 if fit_intercept else 0)
    x = np.empty(q)
    for i in range(lo, hi):
        for j in range(p):
            x[j] = X[i, j]
        if fit_intercept:
            x[p] = 1.0
        o = O[i - lo]
        t = 0
        for a in range(q):
            xa = x[a]
            for b in range(a, q):
                o[t + b - a] = xa * x[b]
            t += q - a


@kernel
def _pair_coefficients(ss, Ps, k, l, m, c):
    """``c[t] = s_t (pi_tk delta_kl - pi_tk pi_tl)`` for ``t < m``."""
    for t in range(m):
        v = -ss[t] * Ps[t, k] * Ps[t, l]
        if l == k:
            v += ss[t] * Ps[t, k]
        c[t] = v


@parallel_kernel
def multi_hess_pairs_dense(X, sw, P, fit_intercept, parallel, HP):
    r"""Add every distinct multinomial Hessian entry into ``HP`` without BLAS.

    ``HP[pair(k, l), tri(a, b)] += \sum_i c_{ikl} \tilde x_{ia} \tilde x_{ib}`` for ``k <= l``,
    ``a <= b`` (row-major upper-triangle orders), with
    :math:`c_{ikl} = s_i(\pi_{ik}\delta_{kl} - \pi_{ik}\pi_{il})`: the layout of
    ``Cm^T O`` in :meth:`LogisticObjective.hess`.  ``[X, 1]`` is transposed once (a copy of
    ``X``'s size), so every entry is a long vectorised dot product; class pairs run in
    parallel when ``parallel`` (each writes its own row of ``HP``).
    """
    p = X.shape[1]
    n = X.shape[0]
    K = P.shape[1]
    q = p + (1 if fit_intercept else 0)
    n_pairs = K * (K + 1) // 2
    kk = np.empty(n_pairs, dtype=np.int64)
    ll = np.empty(n_pairs, dtype=np.int64)
    t = 0
    for k in range(K):
        for l in range(k, K):
            kk[t] = k
            ll[t] = l
            t += 1
    AT = np.empty((q, n))
    _transpose_block(X, fit_intercept, AT)
    w = min(_HESS_ROWS, max(n, 1))
    if parallel:
        for pr in prange(n_pairs):
            _pair_all_rows(AT, sw, P, kk[pr], ll[pr], w, HP[pr])
    else:
        for pr in range(n_pairs):
            _pair_all_rows(AT, sw, P, kk[pr], ll[pr], w, HP[pr])


@kernel
def _pair_all_rows(AT, sw, P, k, l, w, hp):
    """Entries of class pair ``(k, l)`` over all rows, ``w`` rows at a time."""
    q, n = AT.shape
    c = np.empty(w)
    DT = np.empty((q, w))
    for start in range(0, n, w):
        m = min(w, n - start)
        _pair_coefficients(sw[start : start + m], P[start : start + m], k, l, m, c)
        for a in range(q):
            src = AT[a][start : start + m]  # contiguous 1-D slices keep the loops vectorised
            dst = DT[a]
            for t in range(m):
                dst[t] = c[t] * src[t]
        _gram_upper(DT, AT, start, m, 0, q, DT, True, hp)


@kernel
def multi_hess_scatter(HP, K, p, fit_intercept, H):
    """Fill the full multinomial Hessian ``H`` from its distinct entries ``HP`` (layout of
    :func:`multi_hess_pairs_dense`); parameter ``(k, a)`` is ``k p + a`` for a weight and
    ``K p + k`` for an intercept (``a = p``)."""
    q = p + (1 if fit_intercept else 0)
    kp = K * p
    pair = 0
    for k in range(K):
        for l in range(k, K):
            hp = HP[pair]
            tri = 0
            for a in range(q):
                ia_k = k * p + a if a < p else kp + k
                ia_l = l * p + a if a < p else kp + l
                for b in range(a, q):
                    ib_k = k * p + b if b < p else kp + k
                    ib_l = l * p + b if b < p else kp + l
                    v = hp[tri]
                    H[ia_k, ib_l] = v
                    H[ib_l, ia_k] = v
                    H[ib_k, ia_l] = v
                    H[ia_l, ib_k] = v
                    tri += 1
            pair += 1


@kernel
def multi_pair_coefficients(sw, P, lo, hi, Cm):
    r"""``Cm[i - lo, pair(k, l)] = s_i (\pi_{ik} \delta_{kl} - \pi_{ik} \pi_{il})`` for ``k <= l``
    (pairs in row-major upper-triangle order)."""
    K = P.shape[1]
    for i in range(lo, hi):
        s = sw[i]
        t = 0
        for k in range(K):
            pk = P[i, k]
            for l in range(k, K):
                c = -s * pk * P[i, l]
                if l == k:
                    c += s * pk
                Cm[i - lo, t] = c
                t += 1


# --------------------------------------------------------------------------------------
# sparse (CSR) Hessians; dense Hessians are formed with BLAS by LogisticObjective.hess
# --------------------------------------------------------------------------------------


@kernel
def multi_hess_csr(indptr, indices, data, sw, P, n_features, fit_intercept, lo, hi, HT):
    r"""Add the distinct multinomial data-term Hessian entries over rows ``lo:hi`` of CSR ``X``.

    ``HT[tri(a, b), pair(k, l)] += \sum_i c_{ikl} \tilde x_{ia} \tilde x_{ib}`` for columns
    ``a <= b`` of :math:`[X, 1]` and classes ``k <= l`` (row-major upper-triangle orders), with
    :math:`c_{ikl} = s_i(\pi_{ik}\delta_{kl} - \pi_{ik}\pi_{il})`: the transpose of the
    ``HP`` layout of :func:`multi_hess_pairs_dense`, so that each pair of a row's stored
    entries updates :math:`K(K+1)/2` adjacent numbers.  Every ordered pair of stored entries
    with column ``a <= b`` is added, which counts duplicate and unsorted indices correctly
    (a repeated column's entries sum).  Cost :math:`O(\mathrm{nnz}_i^2 K^2 / 4)` per row.
    """
    n_pairs = HT.shape[1]
    p = n_features
    q = p + (1 if fit_intercept else 0)
    c2 = np.empty((1, n_pairs))
    cm = c2[0]
    for i in range(lo, hi):
        multi_pair_coefficients(sw, P, i, i + 1, c2)
        a0 = indptr[i]
        e = indptr[i + 1]
        for t in range(np.uint64(a0), np.uint64(e)):
            ja = indices[t]
            va = np.float64(data[t])  # float32 data: the products in float64
            base = ja * q - (ja * (ja + 1)) // 2  # tri(ja, jb) = base + jb for jb >= ja
            for u in range(np.uint64(a0), np.uint64(e)):
                jb = indices[u]
                if jb >= ja:
                    x = va * data[u]
                    h = HT[base + jb]
                    for r in range(n_pairs):
                        h[r] += x * cm[r]
            if fit_intercept:
                h = HT[base + p]
                for r in range(n_pairs):
                    h[r] += va * cm[r]
        if fit_intercept:
            h = HT[HT.shape[0] - 1]
            for r in range(n_pairs):
                h[r] += cm[r]


@parallel_kernel
def multi_hess_csr_par(indptr, indices, data, sw, P, n_features, fit_intercept, G):
    """Chunked :func:`multi_hess_csr`."""
    nc = G.shape[0]
    m = indptr.shape[0] - 1
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        multi_hess_csr(indptr, indices, data, sw, P, n_features, fit_intercept, lo, hi, G[c])
