"""Procedural surfaces and light for backdrops: wood, marble, linen, and a directional light sweep.

All made from value noise (random lattices, cubic-resized and summed over octaves) and a few
trigonometric patterns, deterministic for a given seed and size. They are seen from above, as
in a flat-lay product photo, and kept low in contrast so that text over them stays readable.
Each returns a float32 H×W×3 image in 0..255 (before grain and 8-bit rounding).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

SURFACES = ("wood", "marble", "linen")


def value_noise(size: tuple[int, int], cell: float, rng: np.random.Generator, stretch: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """Smooth noise in [0, 1]: a random lattice every `cell` pixels (× stretch per axis), cubic-resized."""
    w, h = size
    gx = max(2, math.ceil(w / (cell * stretch[0])) + 3)
    gy = max(2, math.ceil(h / (cell * stretch[1])) + 3)
    lattice = rng.random((gy, gx)).astype(np.float32)
    big = cv2.resize(lattice, (round(gx * cell * stretch[0]), round(gy * cell * stretch[1])), interpolation=cv2.INTER_CUBIC)
    ox, oy = round(cell * stretch[0]), round(cell * stretch[1])  # skip the lattice's border row
    return np.clip(big[oy : oy + h, ox : ox + w], 0.0, 1.0)


def fbm(size: tuple[int, int], cell: float, octaves: int, rng: np.random.Generator, stretch=(1.0, 1.0), gain: float = 0.5) -> np.ndarray:
    """Fractal sum of value noise, normalised to [0, 1]."""
    total = np.zeros((size[1], size[0]), np.float32)
    amp, norm = 1.0, 0.0
    for o in range(octaves):
        total += amp * value_noise(size, max(1.0, cell / 2**o), rng, stretch)
        norm += amp
        amp *= gain
    total /= norm
    lo, hi = float(total.min()), float(total.max())
    return (total - lo) / max(hi - lo, 1e-6)


def _mix(a, b, t: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return a * (1.0 - t[..., None]) + b * t[..., None]


def wood(size: tuple[int, int], colours, seed: int, plank: float = 0.24) -> np.ndarray:
    """Planks of a light wood tabletop: fine grain lines bent by noise, long fibres, a tone per plank."""
    w, h = size
    rng = np.random.default_rng(seed)
    s = min(w, h)
    light, dark = colours[0], colours[1] if len(colours) > 1 else colours[0]
    plank_h = max(4, round(plank * s))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    row = (yy // plank_h).astype(np.int32)
    n_rows = int(row.max()) + 1
    tone = rng.uniform(-0.08, 0.08, n_rows).astype(np.float32)
    offset = rng.uniform(0, 4 * s, n_rows).astype(np.float32)  # each plank is cut from elsewhere in the log
    warp = fbm(size, s * 0.35, 4, rng, stretch=(5.0, 1.0))
    density = fbm(size, s * 0.25, 2, rng, stretch=(3.0, 1.0))
    fibres = fbm(size, s * 0.004, 3, rng, stretch=(40.0, 1.0))
    local_y = yy - row * plank_h
    coord = local_y + offset[row] + 0.09 * s * warp
    period = s * 0.016 * (0.7 + 0.8 * density)
    lines = (0.5 + 0.5 * np.cos(2 * math.pi * coord / period)) ** 6  # thin late-wood lines
    t = np.clip(0.28 * lines + 0.3 * fibres + 0.18 * density + tone[row], 0.0, 1.0)
    img = _mix(light, dark, t)
    seam = np.abs(local_y - plank_h / 2.0) > plank_h / 2.0 - max(1.0, s / 800)
    img[seam] *= 0.82
    return img


def marble(size: tuple[int, int], colours, seed: int, veins: float = 0.35) -> np.ndarray:
    """White marble: soft clouds, a few wandering veins with fainter branches."""
    w, h = size
    rng = np.random.default_rng(seed)
    s = min(w, h)
    base, vein_colour = colours[0], colours[1] if len(colours) > 1 else (150, 150, 150)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    turbulence = fbm(size, s * 0.5, 6, rng, gain=0.55)
    detail = fbm(size, s * 0.15, 5, rng)
    clouds = fbm(size, s * 0.6, 4, rng)
    angle = rng.uniform(0.5, 1.0)
    d = (xx * math.cos(angle) + yy * math.sin(angle)) / s
    # Veins run along one direction and wander with the turbulence; a second noise fades some out.
    main = np.sin(2 * math.pi * (1.6 * d + 0.55 * turbulence))
    branch = np.sin(2 * math.pi * (4.3 * d + 0.9 * turbulence + 0.35 * detail))
    presence = np.clip((fbm(size, s * 0.45, 3, rng) - 0.3) / 0.4, 0, 1)
    vein = (np.clip(1.0 - np.abs(main) / 0.03, 0, 1) ** 1.5 + 0.3 * np.exp(-(main / 0.2) ** 2)) * (0.35 + 0.65 * presence)
    vein += 0.4 * np.clip(1.0 - np.abs(branch) / 0.015, 0, 1) * np.clip((detail - 0.5) / 0.2, 0, 1)
    img = np.asarray(base, np.float32) * (0.965 + 0.05 * clouds[..., None])
    return _mix(img, vein_colour, np.clip(veins * vein, 0, 1))


def linen(size: tuple[int, int], colours, seed: int, thread: float = 0.006) -> np.ndarray:
    """Woven linen: warp and weft threads with irregular thickness (slubs) and soft folds."""
    w, h = size
    rng = np.random.default_rng(seed)
    s = min(w, h)
    base, deep = colours[0], colours[1] if len(colours) > 1 else colours[0]
    period = max(2.0, thread * s)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    jitter_x = fbm(size, s * 0.05, 2, rng, stretch=(1.0, 6.0))
    jitter_y = fbm(size, s * 0.05, 2, rng, stretch=(6.0, 1.0))
    warp_threads = 0.5 + 0.5 * np.cos(2 * math.pi * (xx / period + 0.6 * jitter_x))
    weft_threads = 0.5 + 0.5 * np.cos(2 * math.pi * (yy / period + 0.6 * jitter_y))
    slubs = fbm(size, s * 0.01, 2, rng, stretch=(12.0, 1.0))
    folds = fbm(size, s * 0.6, 3, rng)
    weave = 0.5 * warp_threads + 0.5 * weft_threads
    t = np.clip(0.35 * weave + 0.35 * slubs**2 + 0.3 * folds, 0, 1)
    return _mix(base, deep, t)


def render_surface(kind: str, size: tuple[int, int], colours, seed: int, params: dict | None = None) -> np.ndarray:
    params = params or {}
    if kind == "wood":
        return wood(size, colours, seed, float(params.get("plank", 0.24)))
    if kind == "marble":
        return marble(size, colours, seed, float(params.get("veins", 0.35)))
    if kind == "linen":
        return linen(size, colours, seed, float(params.get("thread", 0.006)))
    raise ValueError(f"unknown surface '{kind}'; choose from {SURFACES}")


def light_vector(angle_deg: float) -> tuple[float, float]:
    """Unit vector towards the light in image coordinates (x right, y down); 90° is from the top."""
    a = math.radians(angle_deg)
    return math.cos(a), -math.sin(a)


def light_sweep(img: np.ndarray, angle_deg: float, strength: float, falloff: float = 0.25) -> np.ndarray:
    """Brighten the side the light comes from and darken the far side and corners (a soft vignette)."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = (xx / max(w - 1, 1) - 0.5) * (w / max(w, h)), (yy / max(h - 1, 1) - 0.5) * (h / max(w, h))
    lx, ly = light_vector(angle_deg)
    along = u * lx + v * ly  # +0.5 towards the light
    gain = 1.0 + strength * np.tanh(along / 0.35) - falloff * strength * (u * u + v * v) * 2.0
    return img * gain[..., None]
