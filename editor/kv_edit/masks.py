"""From the user's pixel mask to FLUX's grids, and back to exact pixels.

Three resolutions meet here: the user's image (any size), the VAE latent grid (working size / 8)
and FLUX's token grid (2×2 latent pixels packed into one token). Going down we *dilate*: a latent
pixel is foreground if any image pixel it covers is masked, and a token is foreground if any of its
latent pixels is, so no masked pixel is ever lost. Going up, only pixels inside the mask take
generated values; a feather band that lies inside the mask hides the seam.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

# FLUX packs 2×2 latent pixels into a token and the VAE downsamples 8×, so working sizes are
# multiples of 16.
SIZE_MULTIPLE = 16


def working_size(width: int, height: int, multiple: int = SIZE_MULTIPLE) -> tuple[int, int]:
    """The nearest size (W, H) both of whose sides are positive multiples of `multiple`."""

    def fit(x: int) -> int:
        return max(multiple, int(round(x / multiple)) * multiple)

    return fit(width), fit(height)


def _cell_bounds(n_src: int, n_dst: int) -> tuple[np.ndarray, np.ndarray]:
    """For each of n_dst cells spread over n_src pixels: first and one-past-last pixel it touches."""
    edges = np.arange(n_dst + 1, dtype=np.float64) * (n_src / n_dst)
    start = np.floor(edges[:-1]).astype(np.int64)
    stop = np.ceil(edges[1:]).astype(np.int64)
    return np.clip(start, 0, n_src - 1), np.clip(np.maximum(stop, start + 1), 1, n_src)


def mask_to_grid(mask: np.ndarray, grid_h: int, grid_w: int) -> np.ndarray:
    """Bool grid_h × grid_w: True where the cell covers at least one pixel with mask > 0.

    Cells are the grid laid over the *original* image, so nothing depends on resampling the mask.
    """
    on = (np.asarray(mask) > 0).astype(np.int64)
    h, w = on.shape
    integral = np.zeros((h + 1, w + 1), dtype=np.int64)
    integral[1:, 1:] = on.cumsum(0).cumsum(1)
    y0, y1 = _cell_bounds(h, grid_h)
    x0, x1 = _cell_bounds(w, grid_w)
    count = (
        integral[y1][:, x1] - integral[y0][:, x1] - integral[y1][:, x0] + integral[y0][:, x0]
    )
    return count > 0


@dataclass(frozen=True)
class TokenMask:
    """The mask on FLUX's grids for one working size."""

    latent: np.ndarray  # bool (latent_h, latent_w): latent pixels that may change
    tokens: np.ndarray  # bool (latent_h // 2 * latent_w // 2,): tokens that go through the transformer

    @property
    def image_tokens(self) -> int:
        return int(self.tokens.size)

    @property
    def foreground_tokens(self) -> int:
        return int(self.tokens.sum())

    @property
    def background_tokens(self) -> int:
        return self.image_tokens - self.foreground_tokens

    def foreground_index(self, device=None) -> torch.Tensor:
        return torch.from_numpy(np.flatnonzero(self.tokens)).to(device)

    def background_index(self, device=None) -> torch.Tensor:
        return torch.from_numpy(np.flatnonzero(~self.tokens)).to(device)

    def packed(self, channels: int, device=None, dtype=torch.float32) -> torch.Tensor:
        """The latent mask in FLUX's packed layout [1, tokens, channels * 4] (same order as
        FluxPipeline._pack_latents: channel, then row and column inside the 2×2 patch)."""
        h, w = self.latent.shape
        m = torch.from_numpy(self.latent.astype(np.float32))
        m = m.view(1, 1, h // 2, 2, w // 2, 2).expand(1, channels, h // 2, 2, w // 2, 2)
        m = m.permute(0, 2, 4, 1, 3, 5).reshape(1, (h // 2) * (w // 2), channels * 4)
        return m.to(device=device, dtype=dtype)


def token_mask(mask: np.ndarray, latent_h: int, latent_w: int) -> TokenMask:
    """Map a pixel mask (any size, binary or soft; > 0 means change) to latent pixels and tokens."""
    if latent_h % 2 or latent_w % 2:
        raise ValueError(f"latent size must be even to pack 2×2 tokens; got {latent_h}×{latent_w}")
    latent = mask_to_grid(mask, latent_h, latent_w)
    tokens = latent.reshape(latent_h // 2, 2, latent_w // 2, 2).any(axis=(1, 3)).reshape(-1)
    return TokenMask(latent=latent, tokens=tokens)


def blend_weights(mask: np.ndarray, feather_px: int) -> np.ndarray:
    """Per-pixel weight of the generated image, float32 in [0, 1].

    Exactly 0 wherever mask == 0 (so those pixels stay the input's), and inside the mask it rises
    from the mask edge to full strength over `feather_px` pixels (less for narrow regions): the
    seam is hidden inside the region the user allowed to change. Soft masks keep their own values, tapered the same way.
    """
    mask = np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)
    inside = mask > 0
    if feather_px <= 0 or not inside.any() or inside.all():
        return np.where(inside, mask, 0.0).astype(np.float32)
    # Distance (px) from each masked pixel to the nearest unmasked one; the image border is not an edge.
    distance = ndimage.distance_transform_edt(inside)
    # A region narrower than two bands (a thin stroke over a wire) gets a narrower band, so its
    # middle is still fully generated.
    labels, count = ndimage.label(inside)
    depth = np.asarray(ndimage.maximum(distance, labels, np.arange(1, count + 1)), dtype=np.float64)
    band = np.minimum(float(feather_px), np.floor(depth / 2.0))
    band_per_pixel = np.concatenate([[0.0], band])[labels]
    ramp = np.clip(distance / (band_per_pixel + 1.0), 0.0, 1.0)
    ramp = ramp * ramp * (3.0 - 2.0 * ramp)  # smoothstep: no visible kink where the band ends
    return np.where(inside, mask * ramp, 0.0).astype(np.float32)


def paste_back(original: np.ndarray, generated: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """original and generated: H×W×3 uint8 of the same size. Pixels with weight 0 are copied from
    `original` bit for bit; weight 1 takes `generated` as is; in between, a rounded linear blend."""
    if original.shape != generated.shape or original.shape[:2] != weights.shape:
        raise ValueError(
            f"shapes differ: original {original.shape}, generated {generated.shape}, weights {weights.shape}"
        )
    out = original.copy()
    changed = weights > 0
    if changed.any():
        w = weights[changed][:, None]
        o = original[changed].astype(np.float32)
        g = generated[changed].astype(np.float32)
        out[changed] = np.clip(np.rint(o + (g - o) * w), 0, 255).astype(np.uint8)
    return out
