"""Plain NumPy im2col/col2im: the readable definition the fast kernels are tested against.

Layout, shared by every backend: col has shape (C*kh*kw, N*oh*ow); row
(c, i, j) holds kernel tap (i, j) of channel c, column (n, y, x) the output
pixel. So a conv is `weight.reshape(O, C*kh*kw) @ col`.
"""
import numpy


def im2col(x, kh, kw, stride, padding, out_hw):
    n, c, _, _ = x.shape
    (sh, sw), (ph, pw), (oh, ow) = stride, padding, out_hw
    padded = numpy.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    col = numpy.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            window = padded[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]
            col[:, i, j] = window.transpose(1, 0, 2, 3)
    return col.reshape(c * kh * kw, n * oh * ow)


def col2im(col, x_shape, kh, kw, stride, padding, out_hw):
    n, c, h, w = x_shape
    (sh, sw), (ph, pw), (oh, ow) = stride, padding, out_hw
    col = col.reshape(c, kh, kw, n, oh, ow)
    padded = numpy.zeros((n, c, h + 2 * ph + sh, w + 2 * pw + sw), dtype=col.dtype)
    for i in range(kh):
        for j in range(kw):
            padded[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += col[:, i, j].transpose(1, 0, 2, 3)
    return padded[:, :, ph:ph + h, pw:pw + w].copy()


# ---------- fused kernels: plain NumPy versions of kernels/cpu.py's ----------

def _per_channel(v, ndim):
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _stat_axes(x):
    return (0,) + tuple(range(2, x.ndim))


def bias_leaky_relu(x, bias=None, negative_slope=0.01):
    """leaky_relu(x + bias[c], negative_slope) for x (N, C, *spatial); bias (C,) or None."""
    v = x if bias is None else x + _per_channel(bias, x.ndim)
    return numpy.where(v > 0, v, v * x.dtype.type(negative_slope))


def bias_leaky_relu_backward(grad, y, negative_slope=0.01, bias_grad=False):
    """grad * (y > 0 ? 1 : slope), and with bias_grad also its per-channel sum (negative_slope >= 0)."""
    if negative_slope < 0:
        raise ValueError(f"bias_leaky_relu_backward: negative_slope must be >= 0, got {negative_slope}")
    grad_x = numpy.where(y > 0, grad, grad * grad.dtype.type(negative_slope))
    if not bias_grad:
        return grad_x
    return grad_x, grad_x.sum(axis=_stat_axes(grad_x), dtype=numpy.float64).astype(grad.dtype)


def batch_norm_stats(x):
    """(mean, biased var) per channel over all axes but 1, in x.dtype."""
    axes = _stat_axes(x)
    return x.mean(axis=axes), x.var(axis=axes)


def batch_norm_forward_apply(x, mean, inv_std, weight=None, bias=None):
    """(y, x_hat) with x_hat = (x - mean[c]) * inv_std[c], y = x_hat * weight[c] + bias[c]."""
    x_hat = (x - _per_channel(mean, x.ndim)) * _per_channel(inv_std, x.ndim)
    y = x_hat if weight is None else x_hat * _per_channel(weight, x.ndim)
    y = y if bias is None else y + _per_channel(bias, x.ndim)
    return (y.copy() if y is x_hat else y), x_hat


def batch_norm_backward_reductions(grad_y, x_hat):
    """(sum of grad_y, sum of grad_y * x_hat) per channel."""
    axes = _stat_axes(grad_y)
    return grad_y.sum(axis=axes), (grad_y * x_hat).sum(axis=axes)


def batch_norm_backward_apply(grad_y, x_hat, scale, mean_dy, mean_dy_xhat):
    """scale[c] * (grad_y - mean_dy[c] - x_hat * mean_dy_xhat[c])."""
    d = grad_y.ndim
    return _per_channel(scale, d) * (grad_y - _per_channel(mean_dy, d)
                                     - x_hat * _per_channel(mean_dy_xhat, d))
