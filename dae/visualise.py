"""Pictures: noisy / denoised / clean grids (PIL, byte-stable) and the summary plots (matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dae.io import atomic_path


def comparison_grid(rows: list[np.ndarray], min_side: int = 48, gap: int = 2) -> np.ndarray:
    """Stack rows of images (each (N, C, H, W) in [0, 1]) into one uint8 picture, upscaled to `min_side` px."""
    n, c, h, w = rows[0].shape
    scale = max(1, -(-min_side // max(h, w)))
    cell_h, cell_w = h * scale + gap, w * scale + gap
    grid = np.full((len(rows) * cell_h + gap, n * cell_w + gap, c), 255, dtype=np.uint8)
    for r, row in enumerate(rows):
        pixels = np.rint(np.clip(row, 0, 1) * 255).astype(np.uint8).transpose(0, 2, 3, 1)
        pixels = pixels.repeat(scale, axis=1).repeat(scale, axis=2)
        for i in range(n):
            top, left = gap + r * cell_h, gap + i * cell_w
            grid[top : top + h * scale, left : left + w * scale] = pixels[i]
    return grid[..., 0] if c == 1 else grid


def save_png(path: str | Path, image: np.ndarray) -> None:
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")


def _save_figure(fig, path: str | Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        # No "Software" stamp: the bytes then depend only on the picture.
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def _figure(width: float = 6.4, height: float = 4.2, ncols: int = 1):
    """A figure and its list of `ncols` axes, drawn off-screen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width, height), squeeze=False)
    return fig, list(axes[0])


LOSS_LABELS = {"mse": "MSE", "bce": "BCE", "psnr": "-PSNR (dB)"}


def plot_losses(histories: dict[str, list[dict[str, float]]], path: str | Path, loss: str = "mse") -> None:
    """Train (dashed) and val (solid) loss per epoch, one colour per model."""
    fig, (ax,) = _figure()
    for i, (name, rows) in enumerate(histories.items()):
        epochs = [r["epoch"] for r in rows]
        ax.plot(epochs, [r["train"] for r in rows], "--", color=f"C{i % 10}", alpha=0.7)
        ax.plot(epochs, [r["val"] for r in rows], "-", color=f"C{i % 10}", label=name)
    # -PSNR is negative: a log axis only for the losses that are positive.
    scale = "linear" if loss == "psnr" else "log"
    ax.set(xlabel="epoch", ylabel=LOSS_LABELS[loss], yscale=scale, title="Loss per epoch (solid: val, dashed: train)")
    ax.legend(fontsize=7, ncol=2)
    _save_figure(fig, path)


def plot_psnr_vs_noise(rows: list[dict], path: str | Path) -> None:
    """PSNR of model output and of noisy input against noise level, one panel per noise type."""
    types = sorted({r["type"] for r in rows})
    fig, axes = _figure(4.0 * len(types), 3.6, ncols=len(types))
    for ax, kind in zip(axes, types, strict=True):
        pts = sorted((r for r in rows if r["type"] == kind), key=lambda r: r["level"])
        levels = [r["level"] for r in pts]
        ax.plot(levels, [r["psnr"] for r in pts], "o-", label="autoencoder")
        ax.plot(levels, [r["noisy_psnr"] for r in pts], "s--", color="grey", label="noisy input")
        ax.set(title=kind, xlabel="noise level", ylabel="PSNR (dB)")
        ax.grid(alpha=0.3)
    axes[0].legend()
    _save_figure(fig, path)


def plot_methods_vs_noise(rows: list[dict], path: str | Path) -> None:
    """Test PSNR against noise level, one line per method (rows of {type, level, method, psnr})."""
    types = sorted({r["type"] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig, axes = _figure(4.2 * len(types), 3.8, ncols=len(types))
    for ax, kind in zip(axes, types, strict=True):
        for i, method in enumerate(methods):
            pts = sorted((r for r in rows if r["type"] == kind and r["method"] == method), key=lambda r: r["level"])
            style = {"lw": 2.5, "color": "k"} if method == "autoencoder" else {"lw": 1, "color": f"C{i % 10}"}
            ax.plot([p["level"] for p in pts], [p["psnr"] for p in pts], "o-", ms=3, label=method, **style)
        ax.set(title=kind, xlabel="noise level", ylabel="PSNR (dB)")
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=7)
    _save_figure(fig, path)


def plot_anomaly_curves(roc: list[dict], hist: list[dict], best: str, path: str | Path, title: str) -> None:
    """Left: the ROC of each score (rows of {fpr, <score>: tpr}); right: the best score's density, normal against
    anomalous (rows of {log10_ratio, normal, anomalous})."""
    fig, (left, right) = _figure(10, 3.8, ncols=2)
    scores = [k for k in roc[0] if k != "fpr"]
    for score in scores:
        lw = 2.5 if score == best else 1.2
        left.plot([r["fpr"] for r in roc], [r[score] for r in roc], lw=lw, label=score)
    left.plot([0, 1], [0, 1], ":", color="grey")
    left.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, mean over the classes")
    left.legend(fontsize=8)
    x = [r["log10_ratio"] for r in hist]
    right.fill_between(x, [r["normal"] for r in hist], step="mid", alpha=0.5, label="normal")
    right.fill_between(x, [r["anomalous"] for r in hist], step="mid", alpha=0.5, label="anomalous")
    right.set(xlabel=f"log10({best} / median {best} of normal val images)", ylabel="density", title="Test scores")
    right.legend(fontsize=8)
    fig.suptitle(title)
    _save_figure(fig, path)


def plot_study(study: str, rows: list[dict], path: str | Path) -> None:
    """Test PSNR (left) and the train-val loss gap (right) against the knob's values, in the grid's order."""
    fig, (left, right) = _figure(9, 3.4, ncols=2)
    labels = [str(r["value"]) for r in rows]
    for ax, key, name in ((left, "psnr", "test PSNR (dB)"), (right, "gap", "val loss - train loss")):
        ax.plot(range(len(rows)), [r[key] for r in rows], "o-")
        ax.set_xticks(range(len(rows)), labels)
        ax.set(xlabel=study, ylabel=name)
        ax.grid(alpha=0.3)
    fig.suptitle(f"Study: {study}")
    _save_figure(fig, path)


def plot_probe(rows: list[dict], references: dict[str, float], path: str | Path) -> None:
    """Linear-probe test error of the DAEs against their training noise level, one line per noise type, with the
    raw-pixel, PCA and plain-autoencoder errors as horizontal references."""
    fig, (ax,) = _figure(6.4, 4.0)
    for i, kind in enumerate(dict.fromkeys(r["type"] for r in rows)):
        pts = sorted((r for r in rows if r["type"] == kind), key=lambda r: r["level"])
        ax.plot([p["level"] for p in pts], [100 * p["error"] for p in pts], "o-", color=f"C{i}", label=f"DAE, {kind}")
    for j, (name, value) in enumerate(references.items()):
        ax.axhline(100 * value, ls="--", color=f"C{j + 5}", label={"ae": "plain autoencoder"}.get(name, name))
    ax.set(xlabel="training noise level", ylabel="linear probe test error (%)", title="What the codes are worth")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save_figure(fig, path)


def plot_method_grid(rows: dict[str, np.ndarray], path: str | Path, title: str) -> None:
    """One labelled row per method (each (N, C, H, W) in [0, 1]): the same images through every denoiser.

    Drawn as one mosaic in one axes: a subplot per image cost 1.5 s a picture, more than the methods it shows.
    """
    names = list(rows)
    n, c, h, w = next(iter(rows.values())).shape
    gap = max(1, h // 8)
    mosaic = np.ones((len(names) * (h + gap) - gap, n * (w + gap) - gap, c), dtype=np.float32)
    for r, name in enumerate(names):
        for i in range(n):
            top, left = r * (h + gap), i * (w + gap)
            mosaic[top : top + h, left : left + w] = np.clip(rows[name][i], 0, 1).transpose(1, 2, 0)
    fig, (ax,) = _figure(1.1 * n + 1.6, 1.1 * len(names))
    ax.imshow(mosaic[..., 0] if c == 1 else mosaic, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([r * (h + gap) + h / 2 for r in range(len(names))], [name.replace("_", " ") for name in names])
    ax.tick_params(length=0, labelsize=8)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(title)
    _save_figure(fig, path)


def plot_heatmap(matrix: np.ndarray, rows: list[str], cols: list[str], path: str | Path, title: str) -> None:
    fig, (ax,) = _figure(1.2 + 0.9 * len(cols), 1.0 + 0.6 * len(rows))
    im = ax.imshow(matrix, cmap="viridis")
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set(xlabel="tested on", ylabel="trained on", title=title)
    for i in range(len(rows)):
        for j in range(len(cols)):
            ax.text(j, i, f"{matrix[i, j]:.1f}", ha="center", va="center", color="w", fontsize=8)
    fig.colorbar(im, ax=ax, label="PSNR (dB)")
    _save_figure(fig, path)
