"""The Inception Score and the Kernel Inception Distance, as torch-fidelity computes them.

IS (Salimans et al. 2016): the logits' softmax p(y|x); over each of `splits`
consecutive chunks of the shuffled samples, exp(mean KL(p(y|x) || p(y))) with p(y)
the chunk's mean; the mean and (population) std over the chunks.
KID (Binkowski et al. 2018): the unbiased MMD^2 under the cubic polynomial kernel
k(x, y) = (x.y / D + 1)^3, over `subsets` pairs of random subsets of `subset_size`
features each (drawn without replacement); the mean and std over the subsets.
The shuffle and the subsets come from numpy.random.RandomState(seed) in
torch-fidelity's order, so the same features give the same numbers (it computes
in float32 where these compute in float64).
"""
import numpy


def _float64_rows(name, features):
    features = numpy.asarray(features, dtype=numpy.float64)
    if features.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (N, D), got shape {features.shape}")
    return features


def inception_score(logits, splits=10, shuffle=True, seed=2020):
    """(mean, std) of the Inception Score of logits (N, classes) over `splits` chunks."""
    logits = _float64_rows("inception_score", logits)
    n = len(logits)
    if not 1 <= splits <= n:
        raise ValueError(f"inception_score: {n} samples cannot make {splits} splits")
    if shuffle:
        logits = logits[numpy.random.RandomState(seed).permutation(n)]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - numpy.log(numpy.exp(shifted).sum(axis=1, keepdims=True))
    p = numpy.exp(log_p)
    scores = []
    for i in range(splits):
        chunk = slice(i * n // splits, (i + 1) * n // splits)
        log_q = numpy.log(p[chunk].mean(axis=0))
        scores.append(numpy.exp((p[chunk] * (log_p[chunk] - log_q)).sum(axis=1).mean()))
    return float(numpy.mean(scores)), float(numpy.std(scores))


def polynomial_mmd2(a, b, degree=3, gamma=None, coef0=1):
    """The unbiased MMD^2 of two equal-size feature sets under (a.b * gamma + coef0)^degree, gamma 1/D by default."""
    gamma = 1.0 / a.shape[1] if gamma is None else gamma
    m = len(a)
    k_aa, k_bb, k_ab = ((x @ y.T * gamma + coef0) ** degree for x, y in ((a, a), (b, b), (a, b)))
    within = k_aa.sum() - numpy.trace(k_aa) + k_bb.sum() - numpy.trace(k_bb)
    return within / (m * (m - 1)) - 2 * k_ab.sum() / (m * m)


def kernel_inception_distance(features_a, features_b, subsets=100, subset_size=1000, seed=2020):
    """(mean, std) of the KID between features (N_a, D) and (N_b, D) over `subsets` random subsets."""
    features_a = _float64_rows("kernel_inception_distance", features_a)
    features_b = _float64_rows("kernel_inception_distance", features_b)
    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(f"kernel_inception_distance: features of shapes {features_a.shape} and "
                         f"{features_b.shape} differ in width")
    if min(len(features_a), len(features_b)) < max(subset_size, 2):
        raise ValueError(f"kernel_inception_distance: subsets of {subset_size} need that many samples on each "
                         f"side, got {len(features_a)} and {len(features_b)} (lower subset_size / --kid-subset-size)")
    rng = numpy.random.RandomState(seed)
    mmds = [polynomial_mmd2(features_a[rng.choice(len(features_a), subset_size, replace=False)],
                            features_b[rng.choice(len(features_b), subset_size, replace=False)])
            for _ in range(subsets)]
    return float(numpy.mean(mmds)), float(numpy.std(mmds))
