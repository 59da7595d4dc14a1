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
