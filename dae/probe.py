"""A linear probe: how much of the label a representation makes linearly readable (Vincent et al., JMLR 2010).

Logistic regression (scikit-learn) is fitted on the representations of the training images and scored on the
test images; the error is the probe's. Raw pixels and PCA are the references a learnt code has to beat.
"""

from __future__ import annotations

import numpy as np
import torch

from dae.errors import DaeError


@torch.inference_mode()
def latent_codes(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 512) -> np.ndarray:
    """The encoder's output for clean images, flattened to one row per image (float64)."""
    model.eval()
    codes = [model.encoder(images[i : i + batch_size]).flatten(1) for i in range(0, len(images), batch_size)]
    return torch.cat(codes).double().numpy()


def probe_error(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> float:
    """Test error (a fraction) of a logistic regression on standardised features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if (classes := len(np.unique(train_y))) < 2:
        raise DaeError(
            f"probe: the training images hold {classes} class; a classifier needs 2 or more (raise data.subset)"
        )
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    clf.fit(train_x, train_y)
    return float(np.mean(clf.predict(test_x) != test_y))


def pca_features(train_x: np.ndarray, test_x: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Both sets projected on the first `n` principal components of the training set."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=min(n, *train_x.shape), random_state=seed).fit(train_x)
    return pca.transform(train_x), pca.transform(test_x)
