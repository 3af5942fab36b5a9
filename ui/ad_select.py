"""Ad tab: tap the product to select it, when the automatic cut-out doubts itself.

The cut-out's checks may doubt it (`ui.ad_tab.cutout_message` lists why). Instead of painting
the product's edge with the brush, the owner opens this panel (the Edit tab's tap panel,
`ui.select_panel`), taps the product ("not this" on what the cut-out wrongly kept) and presses
"Use as the product". Where the selection and the cut-out disagree becomes the brush editor's
strokes, green where the selection adds product and red where it takes background out, so the
tab's own fix path applies it (the preview through `preview_fix`, the build through its
`mask_add` / `mask_remove`), and the brush can still correct it.

The panel selects on the picture the brush editor shows (the product photo at the cut-out's
size), so the strokes line up with the editor's background pixel for pixel.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from editor.errors import InputError
from ui.ad_tab import ADD_COLOUR, REMOVE_COLOUR, preview_fix
from ui.imaging import dimmed_outside, read_upload
from ui.select_panel import PanelText, SelectState, build_tap_panel

TEXT = PanelText(title="ad_select.title", start="ad_select.start", view="ad_select.view", hint="ad_select.hint",
                 use="ad_select.use", no_photo="ad_select.no_photo", done="ad_select.done", used="ad_select.used")
# Where the selection and the cut-out differ by a sliver along an edge both found, that is not a
# fix: differences thinner than this share of the picture's shorter side are left to the cut-out.
SLIVER = 0.004


def _cut_of(client):
    """The session's cut-out, or the one-line reason there is none to fix yet."""
    if getattr(client, "cut", None) is None:
        raise InputError("Press 'Cut out' first, then tap the product.", key="select_cut_first", field="product")
    return client.cut


def product_picture(client, product) -> np.ndarray | None:
    """The product photo as the brush editor shows it (at the cut-out's size); None without a photo."""
    picture = read_upload(product, "product")
    if picture is None:
        return None
    height, width = _cut_of(client).alpha.shape
    rgb = picture.convert("RGB")
    if rgb.size != (width, height):  # a big photo was cut out on a reduced copy (as `run_cutout` shows it)
        rgb = rgb.resize((width, height))
    return np.asarray(rgb)


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))


def fix_strokes(selected: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(add, remove) as bool masks: what the selection has and the cut-out left out, and the
    other way round, without slivers along an edge both found."""
    chosen, kept = selected >= 0.5, alpha >= 0.5
    radius = max(1, round(SLIVER * min(alpha.shape)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))

    def without_slivers(mask: np.ndarray) -> np.ndarray:
        return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, disc).astype(bool)

    return without_slivers(chosen & ~kept), without_slivers(kept & ~chosen)


def strokes_layer(add: np.ndarray, remove: np.ndarray) -> Image.Image:
    """One brush layer: the brush's green where product is added, its red where it is removed."""
    rgba = np.zeros((*add.shape, 4), np.uint8)
    rgba[add] = (*_rgb(ADD_COLOUR), 255)
    rgba[remove & ~add] = (*_rgb(REMOVE_COLOUR), 255)
    return Image.fromarray(rgba, "RGBA")


def fix_value(picture: np.ndarray, alpha: np.ndarray, selected: np.ndarray) -> dict:
    """The brush editor's value with the selection as strokes over the cut-out's canvas (the photo
    with what the cut-out leaves out darkened, as the cut-out opened it)."""
    # no composite: the editor would show it as its picture (`ui.select_panel.editor_value`)
    return {"background": dimmed_outside(picture, alpha), "layers": [strokes_layer(*fix_strokes(selected, alpha))],
            "composite": None}


def use_as_product(selection: SelectState, client, product) -> tuple:
    """The brush editor's value and the fixed cut-out's preview for the selection."""
    picture = product_picture(client, product)
    if picture is None or not np.array_equal(picture, selection.picture):  # another photo since it was taken
        raise InputError("The product photo changed: press 'Take the product photo' again.",
                         key="select_photo_changed", field="product")
    value = fix_value(picture, client.cut.alpha, selection.mask)
    return value, preview_fix(client, read_upload(product, "product"), value)


def build_ad_select_panel(services, client_state, product, mask_editor, cut_preview) -> dict:
    """The panel, inside the current layout, under the brush editor it fills."""

    return build_tap_panel(services, client_state, take=(product_picture, [client_state, product]),
                           use=(use_as_product, [client_state, product], [mask_editor, cut_preview]),
                           text=TEXT, prefix="ad-select")
