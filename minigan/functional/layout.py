"""The batch-innermost memory format: how convolution, batchnorm and activations keep images.

A 4-D activation is a Tensor of logical shape (N, C, H, W), with NCHW's semantics
for every op and user, whose memory is a C-contiguous (C, H, W, N) buffer: the
array is the view buffer.transpose(3, 0, 1, 2). So each pixel's N images are
adjacent, the kernels' im2col/col2im move runs of N numbers, a convolution's GEMM
output (O, oh*ow*N) is already the next layer's image, and each channel of
batchnorm is one contiguous row. The layout is a property of the strides only:
ops accept any layout and convert (one copy) where an array comes in another,
at the edges (data in, tensors made by the user or by other ops); NumPy's and
CuPy's elementwise ops keep their input's memory order, so everything between
stays in it.
"""


def batch_innermost(x):
    """The (C, H, W, N) buffer behind the 4-D array x (N, C, H, W): x's own memory where x is
    already batch-innermost, else a copy."""
    chwn = x.transpose(1, 2, 3, 0)
    return chwn if chwn.flags.c_contiguous else chwn.copy()


def as_nchw(buffer):
    """The (N, C, H, W) view of a (C, H, W, N) buffer."""
    return buffer.transpose(3, 0, 1, 2)
