"""The benchmark's real photos and their hand-drawn regions (benchmarks/select_bench.py).

Each region is annotated the way interactive-segmentation data sets are made: a box around the
object and strokes drawn by hand on the object (`fg`) and on what is not it (`bg`), completed
along the photo's edges by a graph cut at the photo's full size (OpenCV GrabCut, 10 rounds), and
then checked by eye on an overlay (`python benchmarks/select_bench.py --overlays DIR`). `tap` is
where the benchmark taps first: a point anyone would tap on the object, not chosen from results.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Region:
    photo: str
    what: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1: the object is inside
    fg: tuple  # strokes on the object: ((x0, y0), (x1, y1), ...) polylines
    bg: tuple = ()  # strokes on what is not the object
    tap: tuple[int, int] = (0, 0)
    separated: bool = True  # False: the object touches another that looks like part of it (a second tap is fair)
    width: int = 5  # stroke width, pixels


REGIONS = (
    Region("coffee", "the cup, saucer and spoon", (70, 10, 485, 392),
           fg=(((290, 150), (290, 260)), ((150, 300), (400, 340)), ((365, 250), (375, 300))),
           bg=(((80, 345), (140, 388)), ((445, 330), (482, 290)), ((300, 390), (480, 390))), tap=(300, 300)),
    Region("rocket", "the rocket", (300, 120, 346, 408), fg=(((322, 150), (322, 395)),), tap=(322, 250)),
    Region("astronaut", "the astronaut (not the helmet she holds)", (15, 10, 512, 512),
           fg=(((220, 130), (225, 180)), ((150, 300), (330, 450)), ((60, 300), (60, 450)), ((205, 205), (235, 215))), separated=False,
           bg=(((400, 60), (410, 250)), ((330, 60), (340, 200)), ((40, 30), (40, 180)), ((420, 300), (470, 330)),
               ((372, 288), (505, 288)), ((376, 300), (376, 335)), ((440, 340), (505, 340)),
               ((320, 440), (470, 430)), ((390, 370), (460, 380)), ((300, 500), (480, 500))),
           tap=(200, 400)),
    Region("chelsea", "the cat", (0, 0, 400, 300), fg=(((200, 100), (250, 250)), ((100, 150), (150, 60))),
           bg=(((420, 50), (430, 280)), ((385, 10), (395, 130)), ((382, 165), (395, 290)), ((5, 20), (5, 110))),
           tap=(230, 200)),
    Region("cheetah", "the cheetah", (80, 115, 380, 240),
           fg=(((220, 150), (330, 150)), ((350, 140), (365, 140)), ((240, 185), (260, 200))), tap=(280, 150)),
    Region("lion", "the lion in front", (0, 5, 195, 256),
           fg=(((125, 80), (125, 110)), ((80, 100), (80, 160)), ((120, 190), (150, 190)), ((95, 38), (160, 38)),
               ((168, 80), (172, 150))),
           bg=(((150, 230), (250, 240)), ((220, 60), (230, 150)), ((10, 10), (40, 10)), ((40, 240), (90, 252)),
               ((165, 212), (192, 240)), ((190, 175), (194, 200))), tap=(125, 100), separated=False),
    Region("camera", "the cameraman with his camera and tripod", (0, 60, 345, 512),
           fg=(((60, 300), (100, 450)), ((215, 140), (225, 160)), ((290, 220), (290, 300))),
           bg=(((170, 300), (200, 330)), ((100, 80), (150, 80)), ((330, 230), (335, 260)), ((190, 480), (220, 490))),
           tap=(90, 380)),
    Region("motorcycle", "the motorcycle", (95, 100, 690, 450),
           fg=(((400, 190), (440, 200)), ((200, 330), (230, 340)), ((590, 380), (600, 395)), ((400, 300), (420, 310))),
           bg=(((600, 230), (650, 250)), ((300, 450), (450, 470)), ((60, 150), (90, 150)), ((430, 40), (480, 40)),
               ((150, 425), (320, 432)), ((470, 425), (515, 440)), ((560, 215), (590, 215)), ((100, 430), (150, 440)),
               ((270, 405), (320, 412)), ((360, 400), (480, 400)), ((578, 195), (583, 245)), ((620, 262), (680, 262))),
           tap=(420, 195)),
)


def load_photo(name: str) -> np.ndarray:
    """A photo a package ships: scikit-image's samples, Gradio's example pictures."""
    import skimage.data as data

    if name in ("coffee", "rocket", "astronaut", "chelsea"):
        return getattr(data, name)()
    if name == "camera":
        return np.dstack([data.camera()] * 3)
    if name == "motorcycle":
        return data.stereo_motorcycle()[0]
    import gradio

    folder = os.path.join(os.path.dirname(gradio.__file__), "media_assets", "images")
    return np.asarray(Image.open(os.path.join(folder, f"{name}.jpg")).convert("RGB"))


def region_mask(region: Region, photo: np.ndarray) -> np.ndarray:
    """The hand-drawn region at the photo's size (bool)."""
    h, w = photo.shape[:2]
    gc = np.full((h, w), cv2.GC_BGD, np.uint8)
    x0, y0, x1, y1 = region.box
    gc[y0:y1, x0:x1] = cv2.GC_PR_FGD
    for strokes, value in ((region.bg, cv2.GC_BGD), (region.fg, cv2.GC_FGD)):
        for stroke in strokes:
            cv2.polylines(gc, [np.asarray(stroke, np.int32)], False, int(value), region.width)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    cv2.grabCut(cv2.cvtColor(photo, cv2.COLOR_RGB2BGR), gc, None, bgd, fgd, 10, cv2.GC_INIT_WITH_MASK)
    return (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)


def overlay(photo: np.ndarray, mask: np.ndarray, colour=(255, 0, 90)) -> np.ndarray:
    """The photo with the mask tinted and its outline drawn, to check a region by eye."""
    out = photo.astype(np.float32)
    out[mask] = out[mask] * 0.55 + np.asarray(colour, np.float32) * 0.45
    out = out.astype(np.uint8)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, (255, 255, 0), 1)
    return out
