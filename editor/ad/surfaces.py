"""Procedural materials for backdrops: wood planks, marble, linen, paper, kraft, terrazzo, tile,
concrete and a pastel gradient mesh; and a directional light sweep.

Every material is a function of texture coordinates (units of the canvas's shorter side), not of
pixels, so the same backdrop looks the same at any size and can be laid flat (a flat lay seen
from above) or in perspective behind a horizon (a tabletop seen at eye level): the caller only
changes the coordinates it samples. The noise is our own: a hashed value lattice with quintic
interpolation, summed over rotated octaves (fBm), optionally ridged (|2n − 1|) and domain-warped
(the coordinates pushed by another noise), seeded. Each material returns float32 H×W×3 in
0..255 (before grain and 8-bit rounding), kept low in contrast so text over it stays readable.
"""

from __future__ import annotations

import math

import numpy as np

SURFACES = ("wood", "marble", "linen", "paper", "kraft", "terrazzo", "tile", "concrete", "mesh")
GLOSSY = ("marble", "tile")  # materials that show a faint reflection of the product
_TABLE = 256


class Noise:
    """Seeded value noise on a 256×256 lattice that wraps; evaluated at any float coordinates."""

    def __init__(self, seed: int):
        rng = np.random.default_rng(seed)
        self.table = rng.random((_TABLE, _TABLE)).astype(np.float32)
        self.seed = seed

    def value(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        xf, yf = np.floor(x), np.floor(y)
        fx, fy = (x - xf).astype(np.float32), (y - yf).astype(np.float32)
        xi, yi = xf.astype(np.int64) & (_TABLE - 1), yf.astype(np.int64) & (_TABLE - 1)
        x1, y1 = (xi + 1) & (_TABLE - 1), (yi + 1) & (_TABLE - 1)
        sx = fx * fx * fx * (fx * (fx * 6 - 15) + 10)  # quintic: no grid creases
        sy = fy * fy * fy * (fy * (fy * 6 - 15) + 10)
        t = self.table
        top = t[yi, xi] + (t[yi, x1] - t[yi, xi]) * sx
        bottom = t[y1, xi] + (t[y1, x1] - t[y1, xi]) * sx
        return top + (bottom - top) * sy

    def fbm(self, x: np.ndarray, y: np.ndarray, octaves: int = 5, gain: float = 0.5, ridged: bool = False) -> np.ndarray:
        """Fractal sum in [0, 1]; each octave is rotated and shifted so lattice axes never line up."""
        total = np.zeros(np.broadcast(x, y).shape, np.float32)
        amp, norm, freq = 1.0, 0.0, 1.0
        for o in range(octaves):
            a = 0.5 + 1.1 * o
            ca, sa = math.cos(a), math.sin(a)
            u = (x * ca - y * sa) * freq + 17.3 * o
            v = (x * sa + y * ca) * freq + 31.7 * o
            n = self.value(u, v)
            if ridged:
                n = 1.0 - np.abs(2.0 * n - 1.0)
            total += amp * n
            norm += amp
            amp *= gain
            freq *= 2.0
        return total / norm

    def warped(self, x, y, octaves: int = 5, strength: float = 1.0, ridged: bool = False) -> np.ndarray:
        """fBm of coordinates pushed by two other fBm fields (domain warping): flowing shapes."""
        qx = self.fbm(x + 5.2, y + 1.3, 4)
        qy = self.fbm(x + 9.7, y + 2.8, 4)
        return self.fbm(x + strength * (qx - 0.5) * 2, y + strength * (qy - 0.5) * 2, octaves, ridged=ridged)


def _mix(a, b, t: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return a * (1.0 - t[..., None]) + b * t[..., None]


def _colour(colours, i: int, default=(128, 128, 128)):
    return colours[i] if len(colours) > i else (colours[-1] if colours else default)


def _hash01(i: np.ndarray, salt: int) -> np.ndarray:
    """A repeatable pseudo-random number in [0, 1) per integer (plank, tile), without a table."""
    v = np.sin(i.astype(np.float64) * 12.9898 + salt * 78.233) * 43758.5453
    return (v - np.floor(v)).astype(np.float32)


# ----------------------------------------------------------------------------------- materials

def wood(x, y, colours, seed: int, plank: float = 0.24) -> np.ndarray:
    """Planks laid along x: grain lines running along each plank (gently wavy, never rings),
    fine fibres, a tone per plank, staggered butt joints and thin dark seams."""
    n = Noise(seed)
    light, dark = _colour(colours, 0), _colour(colours, 1)
    row = np.floor(y / plank)
    across = y / plank - row  # 0..1 across the plank
    length = 2.2 * (0.8 + 0.4 * _hash01(row, seed + 1))  # plank length, in short sides
    shift = _hash01(row, seed + 2) * length
    col = np.floor((x + shift) / length)
    piece = row * 37 + col  # each board cut from a different place of the log
    offset = _hash01(piece, seed + 3) * 50.0
    tone = (_hash01(piece, seed + 4) - 0.5) * 0.18
    # Grain: lines across the plank's width, pushed along by slow noise (the tree's growth).
    wander = n.fbm(x * 0.6 + offset, across * 1.5 + offset, 3)
    g = (across * (5.0 + 3.0 * _hash01(piece, seed + 5)) + 2.2 * wander + offset) % 1.0
    lines = np.exp(-((g - 0.5) / 0.08) ** 2)  # late wood: a darker band per ring line
    fibres = n.fbm(x * 1.2 + offset, y * 90.0, 3)  # long thin fibres along the plank
    figure = n.fbm(x * 0.9 + offset, y * 4.0, 3)
    t = np.clip(0.32 + 0.22 * lines + 0.28 * (fibres - 0.5) + 0.3 * (figure - 0.5) + tone, 0.0, 1.0)
    img = _mix(light, dark, t)
    seam_w = 0.0035 / plank
    seam = np.clip(1.0 - np.minimum(across, 1.0 - across) / seam_w, 0, 1)
    joint_pos = ((x + shift) / length) % 1.0
    joint = np.clip(1.0 - np.minimum(joint_pos, 1.0 - joint_pos) * length / 0.003, 0, 1)
    return img * (1.0 - 0.25 * np.maximum(seam, joint))[..., None]


def marble(x, y, colours, seed: int, veins: float = 0.35) -> np.ndarray:
    """White marble: soft clouds and branching veins (ridges of domain-warped noise), a fine
    network of fainter veins, all soft-edged."""
    n = Noise(seed)
    base, vein_colour = _colour(colours, 0), _colour(colours, 1, (150, 150, 150))
    clouds = n.fbm(x * 1.2, y * 1.2, 4)
    # Veins are level lines of warped noise: they meander, fork and merge like real ones.
    main = n.warped(x * 0.8, y * 0.8, 6, strength=1.6)
    fine = n.warped(x * 2.2 + 7.0, y * 2.2 + 3.0, 5, strength=1.0)
    presence = np.clip((n.fbm(x * 0.7 + 40, y * 0.7 + 40, 3) - 0.3) / 0.35, 0, 1)
    width = 0.012 + 0.018 * n.fbm(x * 1.5 + 3, y * 1.5, 2) ** 2
    vein = np.exp(-(((main - 0.5) / width) ** 2)) * (0.25 + 0.75 * presence)
    halo = 0.3 * np.exp(-(((main - 0.5) / (6 * width)) ** 2)) * presence  # the soft cloud around a vein
    vein = vein + halo + 0.35 * np.exp(-(((fine - 0.47) / 0.004) ** 2)) * presence
    img = np.asarray(base, np.float32) * (0.97 + 0.045 * clouds[..., None])
    return _mix(img, vein_colour, np.clip(veins * 1.8 * vein, 0, 1))


def linen(x, y, colours, seed: int, thread: float = 0.006) -> np.ndarray:
    """Plain weave: warp and weft threads passing over and under each other, slubs (thicker
    stretches) along each thread, soft folds."""
    n = Noise(seed)
    base, deep = _colour(colours, 0), _colour(colours, 1)
    px, py = x / thread, y / thread
    jx = n.fbm(x * 3.0, y * 40.0, 2) * 0.8
    jy = n.fbm(x * 40.0 + 9, y * 3.0, 2) * 0.8
    warp_t = 0.5 + 0.5 * np.cos(2 * math.pi * (px + jx))
    weft_t = 0.5 + 0.5 * np.cos(2 * math.pi * (py + jy))
    over = (np.floor(px + jx) + np.floor(py + jy)) % 2  # which thread is on top in this cell
    weave = np.where(over > 0, warp_t * (0.6 + 0.4 * weft_t), weft_t * (0.6 + 0.4 * warp_t))
    slubs = n.fbm(x * 6.0, np.floor(py) * 0.37, 2) * 0.5 + n.fbm(np.floor(px) * 0.41, y * 6.0, 2) * 0.5
    folds = n.warped(x * 0.8, y * 0.8, 3, strength=0.6)
    t = np.clip(0.55 - 0.35 * weave + 0.35 * (slubs - 0.5) + 0.35 * (folds - 0.5), 0, 1)
    return _mix(base, deep, t)


def paper(x, y, colours, seed: int, **_) -> np.ndarray:
    """Smooth paper: a gentle tone drift and the faintest fibre tooth."""
    n = Noise(seed)
    base, deep = _colour(colours, 0), _colour(colours, 1)
    drift = n.fbm(x * 0.6, y * 0.6, 3)
    tooth = n.fbm(x * 120.0, y * 120.0, 2)
    return _mix(base, deep, np.clip(0.25 * drift + 0.12 * (tooth - 0.5), 0, 1))


def kraft(x, y, colours, seed: int, **_) -> np.ndarray:
    """Kraft paper: brown mottling and short dark fibres lying in every direction."""
    n = Noise(seed)
    base, deep = _colour(colours, 0), _colour(colours, 1)
    mottle = n.warped(x * 2.0, y * 2.0, 4, strength=0.5)
    fibres = np.zeros(np.broadcast(x, y).shape, np.float32)
    for k, angle in enumerate((0.3, 1.4, 2.4)):  # three fibre directions, each long and thin
        ca, sa = math.cos(angle), math.sin(angle)
        u, v = x * ca - y * sa, x * sa + y * ca
        f = n.fbm(u * 8.0 + 11 * k, v * 160.0, 2)
        fibres = np.maximum(fibres, np.clip((f - 0.74) / 0.1, 0, 1))
    speck = np.clip((n.value(x * 260.0, y * 260.0) - 0.93) / 0.07, 0, 1)
    t = np.clip(0.35 + 0.7 * (mottle - 0.5) + 0.07 * fibres + 0.4 * speck, 0, 1)
    return _mix(base, deep, t)


def terrazzo(x, y, colours, seed: int, chips: float = 1.0) -> np.ndarray:
    """Terrazzo: a pale cement ground with irregular stone chips in a few colours."""
    n = Noise(seed)
    ground = _colour(colours, 0)
    chip_colours = list(colours[1:]) or [(180, 160, 150)]
    base = np.asarray(ground, np.float32) * (0.97 + 0.05 * n.fbm(x * 3, y * 3, 3))[..., None]
    # Chips live in cells of a jittered grid; each cell holds one blob with a noisy outline.
    cell = 0.085 / max(chips, 0.2)
    cx, cy = np.floor(x / cell), np.floor(y / cell)
    out = base
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            ix, iy = cx + dx, cy + dy
            key = ix * 131 + iy * 71
            keep = _hash01(key, seed + 1) < 0.75
            px = (ix + 0.15 + 0.7 * _hash01(key, seed + 2)) * cell
            py = (iy + 0.15 + 0.7 * _hash01(key, seed + 3)) * cell
            r = cell * (0.12 + 0.38 * _hash01(key, seed + 4) ** 2)
            wobble = n.value((x - px) / r * 1.3 + key % 97, (y - py) / r * 1.3) - 0.5
            d = np.hypot(x - px, (y - py) * (0.7 + 0.6 * _hash01(key, seed + 5))) / r + 0.7 * wobble
            inside = np.clip((1.0 - d) * r / 0.0015, 0, 1) * keep * 0.8  # polished: chips a little under the ground
            which = np.floor(_hash01(key, seed + 6) * len(chip_colours)).astype(np.int64)
            colour = np.asarray(chip_colours, np.float32)[which]
            out = out * (1 - inside[..., None]) + colour * inside[..., None]
    return out


def tile(x, y, colours, seed: int, size: float = 0.16) -> np.ndarray:
    """Glazed square tiles: a tone per tile, a soft glaze sheen, thin grout lines."""
    n = Noise(seed)
    glaze, grout = _colour(colours, 0), _colour(colours, 1)
    tx, ty = np.floor(x / size), np.floor(y / size)
    fx, fy = x / size - tx, y / size - ty
    key = tx * 59 + ty * 17
    tone = (_hash01(key, seed + 1) - 0.5) * 0.06
    sheen = n.fbm(x * 2.0 + _hash01(key, seed + 2) * 9, y * 2.0, 3)
    face = np.asarray(glaze, np.float32) * (1.0 + tone + 0.05 * (sheen - 0.5))[..., None]
    edge = np.minimum(np.minimum(fx, 1 - fx), np.minimum(fy, 1 - fy)) * size
    line = np.clip(1.0 - (edge - 0.0018) / 0.0014, 0, 1)
    bevel = np.clip(1.0 - edge / 0.006, 0, 1) * 0.05  # the glaze darkens slightly at the rounded edge
    face = face * (1.0 - bevel)[..., None]
    return _mix(face, grout, line)


def concrete(x, y, colours, seed: int, **_) -> np.ndarray:
    """Smooth cast concrete: cloudy trowel marks, fine grain and scattered air pores."""
    n = Noise(seed)
    base, deep = _colour(colours, 0), _colour(colours, 1)
    clouds = n.warped(x * 1.5, y * 1.5, 5, strength=0.7)
    grain = n.fbm(x * 90.0, y * 90.0, 2)
    pores = np.clip((n.value(x * 140.0 + 3, y * 140.0 + 8) - 0.955) / 0.03, 0, 1)
    t = np.clip(0.4 + 0.55 * (clouds - 0.5) + 0.18 * (grain - 0.5) + 0.6 * pores, 0, 1)
    return _mix(base, deep, t)


def mesh(x, y, colours, seed: int, **_) -> np.ndarray:
    """A pastel gradient mesh: a few colour points blended smoothly, the field gently warped."""
    n = Noise(seed)
    rng = np.random.default_rng(seed)
    cols = np.asarray(colours, np.float32) if colours else np.array([[250, 220, 220], [220, 230, 250]], np.float32)
    wx = x + 0.35 * (n.fbm(x * 0.8, y * 0.8, 3) - 0.5)
    wy = y + 0.35 * (n.fbm(x * 0.8 + 7, y * 0.8 + 7, 3) - 0.5)
    span_x = float(np.max(x)) if np.size(x) else 1.0
    span_y = float(np.max(y)) if np.size(y) else 1.0
    total = np.zeros(np.broadcast(x, y).shape + (3,), np.float32)
    weight = np.zeros(np.broadcast(x, y).shape, np.float32)
    for i in range(max(4, len(cols))):
        px, py = rng.uniform(0, 1) * span_x, rng.uniform(0, 1) * span_y
        w = np.exp(-((wx - px) ** 2 + (wy - py) ** 2) / (2 * 0.2**2)) + 1e-4
        total += w[..., None] * cols[i % len(cols)]
        weight += w
    return total / weight[..., None]


_RENDER = {"wood": (wood, "plank"), "marble": (marble, "veins"), "linen": (linen, "thread"),
           "terrazzo": (terrazzo, "chips"), "tile": (tile, "size")}


def material(kind: str, x: np.ndarray, y: np.ndarray, colours, seed: int, params: dict | None = None) -> np.ndarray:
    """The material at texture coordinates (x, y), in shorter-side units."""
    params = params or {}
    if kind not in SURFACES:
        raise ValueError(f"unknown surface '{kind}'; choose from {SURFACES}")
    fn, knob = _RENDER.get(kind, (globals()[kind], None))
    if knob is not None and knob in params:
        return fn(x, y, colours, seed, float(params[knob]))
    return fn(x, y, colours, seed)


def flat_coords(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Texture coordinates of a flat lay: pixel centres in shorter-side units."""
    w, h = size
    s = float(min(w, h))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return (xx + 0.5) / s, (yy + 0.5) / s


def tabletop_coords(size: tuple[int, int], horizon: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Texture coordinates of a tabletop seen at eye level: rows below `horizon` (fraction of the
    height) map onto the table in perspective (depth grows towards the horizon); returns x, y
    and the table mask (1 below the horizon's soft edge)."""
    w, h = size
    s = float(min(w, h))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    below = np.maximum((yy + 0.5) / h - horizon, 1e-3)
    depth = 0.35 / below  # a row just under the horizon is far away
    tx = ((xx + 0.5) - w / 2) / s * depth * 0.9 + 5.0
    ty = depth * 1.6
    table = np.clip(((yy + 0.5) / h - horizon) / 0.004, 0, 1)
    return tx, ty, table


def render_surface(kind: str, size: tuple[int, int], colours, seed: int, params: dict | None = None,
                   view: str = "flat-lay", horizon: float = 0.62) -> np.ndarray:
    """The material filling `size` (W, H): seen from above (`flat-lay`) or as a tabletop at eye
    level (`tabletop`: a softly lit wall behind the horizon, the table in perspective below)."""
    if view == "flat-lay":
        x, y = flat_coords(size)
        return material(kind, x, y, colours, seed, params)
    x, y, table = tabletop_coords(size, horizon)
    surface = material(kind, x, y, colours, seed, params)
    w, h = size
    v = (np.arange(h, dtype=np.float32) + 0.5) / h
    wall_colour = np.asarray(_colour(colours, 0), np.float32)
    wall_colour = wall_colour + (255.0 - wall_colour) * 0.35  # a pale wall in the material's light tone
    wall = wall_colour[None, :] * (0.93 + 0.07 * np.clip(v / max(horizon, 1e-3), 0, 1))[:, None]
    wall = np.broadcast_to(wall[:, None, :], (h, w, 3))
    # The table's far edge catches less light; fade its texture with distance (atmosphere).
    fade = np.clip(((v - horizon) / 0.25), 0, 1)[:, None, None]
    import cv2

    soft = cv2.GaussianBlur(surface, (0, 0), max(1.0, min(w, h) / 200))  # far detail is finer than a pixel
    surface = soft + (surface - soft) * fade
    mean = surface.reshape(-1, 3).mean(axis=0)
    surface = mean + (surface - mean) * (0.4 + 0.35 * fade)  # calm in front too: the product is the subject
    return wall * (1 - table[..., None]) + surface * table[..., None]


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
