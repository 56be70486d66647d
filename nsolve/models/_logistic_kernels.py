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
  (about one ulp), so the per-row loss terms of a block of rows compile to SIMD code.
* ``X`` may be float32 or float64; every product is formed and accumulated in float64.

Speed: one read of ``X``
------------------------
A fused pass reads each row of ``X`` from memory once.  Rows are processed in blocks of
:func:`block_rows` rows (about 128 KB, so the block stays in the core's L2 cache): the
block's margins, then its loss terms (a vectorised loop over the block), then its gradient
contributions, re-reading the block from cache.  Dot products (:func:`_dot`, :func:`_sum`,
:func:`_sdot`, :func:`_col_dot`) are the only kernels compiled with a floating-point flag:
``fastmath={"reassoc"}``, which lets LLVM split a sum over several SIMD lanes (without it a
dot product is a chain of dependent scalar additions, three times slower than the memory
read it is fused with).  No other fast-math liberty is taken (no ``nnan``/``ninf``, no
approximate functions, no contraction); the result is a correctly rounded sum in a
different, fixed order: deterministic for a given machine and chunking, and within the
usual :math:`O(p\,\epsilon) \sum |x_j w_j|` bound of any summation order.

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
        ope = 1.0 + e
        lb[t] = s * (max(-m, 0.0) + log1p_unit(e))
        num = e if m >= 0.0 else 1.0
        zb[t] = -syt * (num / ope)
        db[t] = s * (e / (ope * ope))


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


@kernel
def _daxpy(g, off, a, x):
    """``g[off + j] += a * x[j]`` for every ``j``."""
    n = x.shape[0]
    gs = g[off : off + n]
    for j in range(n):
        gs[j] += a * x[j]


@_reduction
def _sdot(data, indices, lo, hi, w, off):
    """Return ``sum_t data[t] * w[off + indices[t]]`` over ``t in lo:hi``."""
    s = 0.0
    for t in range(lo, hi):
        s += data[t] * w[off + indices[t]]
    return s


@kernel
def _saxpy(g, off, a, data, indices, lo, hi):
    """``g[off + indices[t]] += a * data[t]`` over ``t in lo:hi``."""
    for t in range(lo, hi):
        g[off + indices[t]] += a * data[t]


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
def _row_index(rows, use_rows, k):
    if use_rows:
        return rows[k]
    return k


@kernel
def _chunk_bounds(m, n_chunks, c):
    """Rows ``[lo, hi)`` of chunk ``c`` when ``m`` rows are split into ``n_chunks``."""
    return c * m // n_chunks, (c + 1) * m // n_chunks


@kernel
def _gather_labels(y, sw, rows, use_rows, start, nb, sy):
    """``sy[t] = s_i (2 y_i - 1)`` for the block rows ``i``."""
    for t in range(nb):
        i = _row_index(rows, use_rows, start + t)
        sy[t] = sw[i] * (2.0 * y[i] - 1.0)


@kernel
def _scatter_state(db, rows, use_rows, start, nb, state):
    for t in range(nb):
        state[_row_index(rows, use_rows, start + t)] = db[t]


# --------------------------------------------------------------------------------------
# binary: fused loss + gradient (+ optional curvature state)
# --------------------------------------------------------------------------------------


@kernel
def binary_fg_dense(X, y, sw, w, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, g):
    r"""Fused binary loss/gradient over rows ``lo:hi`` of C-ordered ``X``.

    Adds :math:`\sum_k s_i (\sigma(z_i) - y_i) [x_i, 1]` (``i = rows[k]`` if ``use_rows``
    else ``k``) into ``g`` when ``need_grad``, writes :math:`d_i = s_i \sigma(1-\sigma)` into
    ``state[i]`` when ``want_state`` and returns :math:`\sum_k s_i \ell_i`.  Each block of
    rows is read from memory once (margins), then from cache (gradient).
    """
    p = X.shape[1]
    b = w[p] if fit_intercept else 0.0
    bmax = block_rows(p)
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
            zb[t] = b + _dot(X[_row_index(rows, use_rows, start + t)], w, 0)
        _gather_labels(y, sw, rows, use_rows, start, nb, sy)
        _binary_terms_block(zb, sy, lb, db, nb)
        loss += _sum(lb, nb)
        if want_state:
            _scatter_state(db, rows, use_rows, start, nb, state)
        if need_grad:
            for t in range(nb):
                _daxpy(g, 0, zb[t], X[_row_index(rows, use_rows, start + t)])
            gb += _sum(zb, nb)
        start += nb
    if fit_intercept and need_grad:
        g[p] += gb
    return loss


@kernel
def binary_fg_fblock(X, y, sw, w, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, g):
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
        _gather_labels(y, sw, rows, use_rows, start, nb, sy)
        _binary_terms_block(zb, sy, lb, db, nb)
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
    indptr, indices, data, y, sw, w, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, g
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
        _gather_labels(y, sw, rows, use_rows, start, nb, sy)
        _binary_terms_block(zb, sy, lb, db, nb)
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
def binary_fg_dense_par(X, y, sw, w, fit_intercept, rows, use_rows, m, need_grad, want_state, state, G, L):
    """Chunked :func:`binary_fg_dense` over ``m`` rows: chunk ``c`` adds into ``G[c]``, ``L[c]``."""
    nc = L.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        L[c] = binary_fg_dense(
            X, y, sw, w, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, G[c]
        )


@parallel_kernel
def binary_fg_fblock_par(X, y, sw, w, fit_intercept, rows, use_rows, m, need_grad, want_state, state, G, L):
    """Chunked :func:`binary_fg_fblock`."""
    nc = L.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        L[c] = binary_fg_fblock(
            X, y, sw, w, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, G[c]
        )


@parallel_kernel
def binary_fg_csr_par(
    indptr, indices, data, y, sw, w, fit_intercept, rows, use_rows, m, need_grad, want_state, state, G, L
):
    """Chunked :func:`binary_fg_csr`."""
    nc = L.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        L[c] = binary_fg_csr(
            indptr, indices, data, y, sw, w, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state,
            state, G[c],
        )


# --------------------------------------------------------------------------------------
# binary: Hessian-vector product from the state d_i (dense Hessians are formed with BLAS
# by the caller; the CSR Hessian is below)
# --------------------------------------------------------------------------------------


@kernel
def binary_hessp_dense(X, d, v, fit_intercept, lo, hi, out):
    r"""Add :math:`\sum_{i \in lo:hi} d_i (\tilde x_i^T v)\, \tilde x_i` into ``out``."""
    p = X.shape[1]
    vb = v[p] if fit_intercept else 0.0
    ob = 0.0
    for i in range(lo, hi):
        x = X[i]
        c = d[i] * (_dot(x, v, 0) + vb)
        _daxpy(out, 0, c, x)
        ob += c
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
def binary_hess_csr(indptr, indices, data, d, fit_intercept, lo, hi, H):
    r"""Add the upper triangle of :math:`\sum_{i \in lo:hi} d_i \tilde x_i \tilde x_i^T` for CSR ``X``.

    Both triangles of each nonzero pair are folded into the upper one, so unsorted or
    duplicate column indices are fine."""
    p = H.shape[0] - (1 if fit_intercept else 0)
    for i in range(lo, hi):
        a0 = indptr[i]
        a1 = indptr[i + 1]
        di = d[i]
        for t in range(a0, a1):
            ja = indices[t]
            ca = di * data[t]
            for u in range(a0, a1):
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
def multi_fg_dense(
    X, y, sw, w, n_classes, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, g
):
    r"""Fused softmax loss/gradient over rows ``lo:hi`` of C-ordered ``X``.

    ``w`` is ``[W.ravel(), b]`` with ``W`` of shape ``(K, p)``; adds
    :math:`s_i(\pi_{ik} - [y_i = k]) x_i` into ``g[k*p:(k+1)*p]`` (and the intercept part into
    ``g[K*p + k]``), writes :math:`\pi_i` into ``state[i]`` when ``want_state`` and returns
    the weighted loss sum.  Each row is read from memory once and used from cache for its
    ``K`` margins and ``K`` gradient updates.
    """
    p = X.shape[1]
    K = n_classes
    kp = K * p
    z = np.empty(K)
    prob = np.empty(K)
    loss = 0.0
    for k in range(lo, hi):
        i = _row_index(rows, use_rows, k)
        s = sw[i]
        x = X[i]
        for c in range(K):
            z[c] = _dot(x, w, c * p)
            if fit_intercept:
                z[c] += w[kp + c]
        yi = y[i]
        loss += s * softmax_terms(z, yi, prob)
        if want_state:
            for c in range(K):
                state[i, c] = prob[c]
        if need_grad:
            prob[yi] -= 1.0
            for c in range(K):
                r = s * prob[c]
                _daxpy(g, c * p, r, x)
                if fit_intercept:
                    g[kp + c] += r
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
def multi_fg_csr(
    indptr, indices, data, y, sw, w, n_classes, fit_intercept, rows, use_rows, lo, hi, need_grad,
    want_state, state, g,
):
    """As :func:`multi_fg_dense` for CSR ``X``."""
    K = n_classes
    kp = g.shape[0] - (K if fit_intercept else 0)
    p = kp // K
    z = np.empty(K)
    prob = np.empty(K)
    loss = 0.0
    for k in range(lo, hi):
        i = _row_index(rows, use_rows, k)
        a = indptr[i]
        e = indptr[i + 1]
        s = sw[i]
        for c in range(K):
            z[c] = _sdot(data, indices, a, e, w, c * p)
            if fit_intercept:
                z[c] += w[kp + c]
        yi = y[i]
        loss += s * softmax_terms(z, yi, prob)
        if want_state:
            for c in range(K):
                state[i, c] = prob[c]
        if need_grad:
            prob[yi] -= 1.0
            for c in range(K):
                r = s * prob[c]
                _saxpy(g, c * p, r, data, indices, a, e)
                if fit_intercept:
                    g[kp + c] += r
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
    to block ``k``.
    """
    p = X.shape[1]
    K = P.shape[1]
    kp = K * p
    u = np.empty(K)
    for i in range(lo, hi):
        x = X[i]
        pu = 0.0
        for c in range(K):
            uc = _dot(x, v, c * p)
            if fit_intercept:
                uc += v[kp + c]
            u[c] = uc
            pu += P[i, c] * uc
        s = sw[i]
        for c in range(K):
            r = s * P[i, c] * (u[c] - pu)
            _daxpy(out, c * p, r, x)
            if fit_intercept:
                out[kp + c] += r


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
    """As :func:`multi_hessp_dense` for CSR ``X``."""
    K = P.shape[1]
    kp = out.shape[0] - (K if fit_intercept else 0)
    p = kp // K
    u = np.empty(K)
    for i in range(lo, hi):
        a = indptr[i]
        e = indptr[i + 1]
        pu = 0.0
        for c in range(K):
            uc = _sdot(data, indices, a, e, v, c * p)
            if fit_intercept:
                uc += v[kp + c]
            u[c] = uc
            pu += P[i, c] * uc
        s = sw[i]
        for c in range(K):
            r = s * P[i, c] * (u[c] - pu)
            _saxpy(out, c * p, r, data, indices, a, e)
            if fit_intercept:
                out[kp + c] += r


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


# --------------------------------------------------------------------------------------
# sparse (CSR) Hessians; dense Hessians are formed with BLAS by LogisticObjective.hess
# --------------------------------------------------------------------------------------


@kernel
def _multi_hess_row(xa_idx, xa_val, s, P, i, p, fit_intercept, H, coef):
    r"""Add row ``i``'s contribution to the upper triangle of the multinomial Hessian.

    ``xa_idx``/``xa_val`` list the row's nonzero features (all of them for dense rows);
    ``coef`` is a ``(K, K)`` scratch for :math:`s_i(\pi_k\delta_{kl} - \pi_k\pi_l)`.
    """
    K = P.shape[1]
    kp = K * p
    nz = xa_idx.shape[0]
    for k in range(K):
        for l in range(K):
            coef[k, l] = -s * P[i, k] * P[i, l]
        coef[k, k] += s * P[i, k]
    for k in range(K):
        for l in range(k, K):
            c = coef[k, l]
            if c == 0.0:
                continue
            for t in range(nz):
                ja = xa_idx[t]
                ca = c * xa_val[t]
                ra = k * p + ja
                for u in range(nz):
                    jb = xa_idx[u]
                    cb = l * p + jb
                    if ra < cb:
                        H[ra, cb] += ca * xa_val[u]
                    elif ra == cb:
                        # (t, u) and (u, t) land on one diagonal entry: count each pair once
                        if t == u:
                            H[ra, ra] += ca * xa_val[u]
                        elif t < u:
                            H[ra, ra] += 2.0 * ca * xa_val[u]
                if fit_intercept:
                    H[ra, kp + l] += ca
                    if l != k:
                        # block (l, k) has the same coefficient: entry (l*p + ja, kp + k)
                        H[l * p + ja, kp + k] += ca
            if fit_intercept:
                H[kp + k, kp + l] += c


@kernel
def multi_hess_csr(indptr, indices, data, sw, P, fit_intercept, lo, hi, H):
    r"""Add the upper triangle of the multinomial data-term Hessian over rows ``lo:hi`` of CSR
    ``X`` (cost :math:`O(K^2 \mathrm{nnz}_i^2)` per row)."""
    K = P.shape[1]
    p = (H.shape[0] - (K if fit_intercept else 0)) // K
    coef = np.empty((K, K))
    for i in range(lo, hi):
        a = indptr[i]
        e = indptr[i + 1]
        val = np.empty(e - a)
        for t in range(a, e):
            val[t - a] = data[t]
        _multi_hess_row(indices[a:e], val, sw[i], P, i, p, fit_intercept, H, coef)


@parallel_kernel
def multi_hess_csr_par(indptr, indices, data, sw, P, fit_intercept, G):
    """Chunked :func:`multi_hess_csr`."""
    nc = G.shape[0]
    m = indptr.shape[0] - 1
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        multi_hess_csr(indptr, indices, data, sw, P, fit_intercept, lo, hi, G[c])
