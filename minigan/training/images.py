"""PNG outputs: image grids, the loss curves and the metric curve, written atomically."""
import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy  # noqa: E402

from ..atomic import atomic_path  # noqa: E402


def grid(images, nrow=8, padding=2):
    """(N, C, H, W) floats in [-1, 1] -> one (rows*H', cols*W', 3) uint8 picture."""
    n, c, h, w = images.shape
    ncol = min(nrow, n)
    nrows = -(-n // ncol)
    picture = numpy.full((nrows * (h + padding) + padding, ncol * (w + padding) + padding, 3), 255,
                         dtype=numpy.uint8)
    pixels = numpy.clip((images + 1) * 127.5 + 0.5, 0, 255).astype(numpy.uint8)
    pixels = numpy.repeat(pixels, 3, axis=1) if c == 1 else pixels
    for k in range(n):
        top, left = padding + (k // ncol) * (h + padding), padding + (k % ncol) * (w + padding)
        picture[top:top + h, left:left + w] = pixels[k].transpose(1, 2, 0)
    return picture


def save_grid(path, images, nrow=8):
    with atomic_path(path) as tmp:
        plt.imsave(tmp, grid(images, nrow))


def save_loss_plot(path, history):
    """history: the metrics.jsonl records; plots both losses and D's outputs against step."""
    steps = [r["step"] for r in history]
    figure, (losses, outputs) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    losses.plot(steps, [r["loss_D"] for r in history], label="loss D", lw=0.8)
    losses.plot(steps, [r["loss_G"] for r in history], label="loss G", lw=0.8)
    losses.set_ylabel("loss")
    losses.legend()
    outputs.plot(steps, [r["D(x)"] for r in history], label="D(x)", lw=0.8)
    outputs.plot(steps, [r["D(G(z))"] for r in history], label="D(G(z))", lw=0.8)
    outputs.set_xlabel("step")
    outputs.set_ylabel("D's probability")
    outputs.legend()
    _save_figure(path, figure)


def save_metric_plot(path, evaluations):
    """evaluations: the eval.jsonl records; the Fréchet distance against step, its best marked."""
    best = min(evaluations, key=lambda r: r["frechet_distance"])
    figure, axes = plt.subplots(figsize=(8, 3.5))
    axes.plot([r["step"] for r in evaluations], [r["frechet_distance"] for r in evaluations], marker=".", lw=0.8)
    axes.plot(best["step"], best["frechet_distance"], "o", mfc="none", ms=10,
              label=f"best: {best['frechet_distance']:.4g} at step {best['step']} (best.npz)")
    axes.set_xlabel("step")
    axes.set_ylabel(f"Fréchet distance\n({evaluations[-1]['metric']} features)")
    axes.legend()
    _save_figure(path, figure)


def _save_figure(path, figure):
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100)
    plt.close(figure)
