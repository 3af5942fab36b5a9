"""Where a picture is busy: spectral-residual saliency and gradient energy.

The layout engine puts text where both are low. The gradient map also gives the
PosterLayout-style "unreadability" figure: the mean gradient under a text box.
"""

from __future__ import annotations

import cv2
import numpy as np


def luminance(rgb: np.ndarray) -> np.ndarray:
    return (rgb[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)) / 255.0


def gradient_magnitude(rgb: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of luminance (0..1 per pixel step), float32 H×W."""
    lum = luminance(rgb)
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3) / 4.0
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3) / 4.0
    return np.sqrt(gx * gx + gy * gy)


def spectral_residual(rgb: np.ndarray, side: int = 96) -> np.ndarray:
    """Hou & Zhang (2007) spectral-residual saliency, normalised to [0, 1], at the input's size."""
    h, w = rgb.shape[:2]
    scale = side / max(h, w)
    small = cv2.resize(luminance(rgb), (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA)
    spectrum = np.fft.fft2(small)
    log_amp = np.log(np.abs(spectrum) + 1e-8)
    residual = log_amp - cv2.blur(log_amp.astype(np.float32), (3, 3))
    sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    sal = cv2.GaussianBlur(sal.astype(np.float32), (0, 0), 2.5)
    sal = cv2.resize(sal, (w, h), interpolation=cv2.INTER_LINEAR)
    top = float(np.percentile(sal, 99.5))
    return np.clip(sal / top, 0.0, 1.0) if top > 0 else np.zeros((h, w), np.float32)


def busy_map(rgb: np.ndarray, product_alpha: np.ndarray | None = None) -> np.ndarray:
    """Cost of putting text at each pixel, [0, 1]; the product counts as 1.

    Local gradient energy says where the picture is busy; spectral-residual saliency adds where
    the eye goes (objects), but only where there is structure at all: on a flat area it is just
    amplified noise (it is normalised per picture), and a flat area is the best place for text.
    """
    grad = gradient_magnitude(rgb)
    side = min(rgb.shape[:2])
    energy = np.clip(cv2.GaussianBlur(grad, (0, 0), max(1.0, side / 200)) / 0.08, 0.0, 1.0)
    structure = np.clip(cv2.GaussianBlur(grad, (0, 0), max(2.0, side / 40)) / 0.04, 0.0, 1.0)
    cost = np.maximum(energy, 0.8 * spectral_residual(rgb) * structure)
    if product_alpha is not None:
        cost = np.maximum(cost, (product_alpha > 0.05).astype(np.float32))
    return cost.astype(np.float32)
