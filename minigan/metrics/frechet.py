"""The Fréchet distance between Gaussians fitted to two feature sets: the formula of FID.

pytorch-fid fits mu (the mean) and sigma (numpy.cov with rowvar=False) to the
features and computes |mu_a - mu_b|^2 + Tr(sigma_a + sigma_b - 2 sqrtm(sigma_a sigma_b))
with scipy's sqrtm. Only the trace of that square root matters, and it is taken
here from symmetric factorizations (NumPy only), which give the same number.
"""
import numpy


def statistics(features):
    """(mu, sigma) of features (N, D) in float64, as pytorch-fid fits them (rowvar=False)."""
    features = numpy.asarray(features, dtype=numpy.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"statistics: expected features (N, D) with N >= 2, got shape {features.shape}")
    return features.mean(axis=0), numpy.cov(features, rowvar=False)


def frechet_distance(features_a, features_b):
    """The Fréchet distance between Gaussians fitted to two feature sets (N, D) (the FID formula)."""
    features_a, features_b = (numpy.asarray(f, dtype=numpy.float64) for f in (features_a, features_b))
    if features_a.ndim != 2 or features_b.ndim != 2 or features_a.shape[1] != features_b.shape[1]:
        raise ValueError(f"frechet_distance: expected two (N, D) feature arrays of one D, got shapes "
                         f"{features_a.shape} and {features_b.shape}")
    if len(features_a) + len(features_b) > features_a.shape[1]:
        return frechet_distance_of_moments(*statistics(features_a), *statistics(features_b))
    # Fewer samples than dimensions: both covariances live in the span of the centered samples, so
    # in an orthonormal basis of it their traces and Tr((cov_a cov_b)^(1/2)) are unchanged, and the
    # eigendecompositions shrink from D x D to (N_a + N_b) x (N_a + N_b).
    centered = [f - f.mean(axis=0) for f in (features_a, features_b)]
    basis = numpy.linalg.qr(numpy.concatenate(centered).T)[0]
    difference = features_a.mean(axis=0) - features_b.mean(axis=0)
    zero = numpy.zeros(basis.shape[1])
    return float(difference @ difference) + frechet_distance_of_moments(
        zero, statistics(features_a @ basis)[1], zero, statistics(features_b @ basis)[1])


def frechet_distance_of_moments(mean_a, cov_a, mean_b, cov_b):
    """|mean_a - mean_b|^2 + Tr(cov_a + cov_b - 2 (cov_a cov_b)^(1/2)).

    The eigenvalues of cov_a cov_b are those of the symmetric F^T cov_b F for any F with
    F F^T = cov_a: a Cholesky factor when cov_a (or, swapping, cov_b) is positive definite,
    else cov_a's square root from its eigendecomposition. The trace of the square root is
    the sum of their square roots; only symmetric factorizations are needed. Eigenvalues
    below the numerical-rank tolerance (numpy.linalg.matrix_rank's, max * D * eps) are
    rounding noise of a singular covariance (fewer samples than dimensions) and count as 0:
    the square roots of thousands of such 1e-16s would otherwise add up to 1e-5.
    """
    mean_a, cov_a, mean_b, cov_b = (numpy.asarray(m, dtype=numpy.float64) for m in (mean_a, cov_a, mean_b, cov_b))
    d = len(mean_a)
    if mean_a.shape != (d,) or mean_b.shape != (d,) or cov_a.shape != (d, d) or cov_b.shape != (d, d):
        raise ValueError(f"frechet_distance_of_moments: expected means (D,) and covariances (D, D) of one D, got "
                         f"{mean_a.shape}, {cov_a.shape}, {mean_b.shape}, {cov_b.shape}")
    factor, other = _square_root_factor(cov_a, cov_b)
    middle = factor.T @ other @ factor
    trace_root = numpy.sqrt(_above_noise(numpy.linalg.eigvalsh((middle + middle.T) / 2))).sum()
    difference = mean_a - mean_b
    return float(difference @ difference + numpy.trace(cov_a) + numpy.trace(cov_b) - 2 * trace_root)


def _above_noise(values):
    """Symmetric eigenvalues with those under the numerical-rank tolerance set to 0."""
    tolerance = max(values.max(initial=0), 0) * len(values) * numpy.finfo(values.dtype).eps
    return numpy.where(values > tolerance, values, 0)


def _square_root_factor(cov_a, cov_b):
    """(F, other): F F^T is one of the covariances, other the other one; Cholesky (a third of an
    eigendecomposition's work) when either is positive definite."""
    for first, other in ((cov_a, cov_b), (cov_b, cov_a)):
        try:
            return numpy.linalg.cholesky(first), other
        except numpy.linalg.LinAlgError:
            pass
    values, vectors = numpy.linalg.eigh(cov_a)
    return vectors * numpy.sqrt(_above_noise(values)), cov_b
