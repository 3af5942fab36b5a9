"""Shop ads: cut the product out, put it on a background, lay out Korean text, export formats.

Works offline without any generative model (uploaded photos or procedural backdrops); with a
model manager it can also generate the background from a prompt or around the product (KV-Edit).
A build returns each format's layout as data (`AdLayout`) that can be edited and re-rendered.
"""

from editor.ad.brand import BrandKit, BrandStore
from editor.ad.cutout import CutOut, RembgSessions, correct_alpha, cut_out, remover_names
from editor.ad.design import AdLayout, TextSettings, load_layouts, save_layouts
from editor.ad.formats import FORMATS, get_format
from editor.ad.workflow import AdRequest, AdResult, AdWorkflow, PlacementRequest

__all__ = ["AdLayout", "AdRequest", "AdResult", "AdWorkflow", "BrandKit", "BrandStore", "CutOut", "FORMATS",
           "PlacementRequest", "RembgSessions", "TextSettings", "correct_alpha", "cut_out", "get_format",
           "load_layouts", "remover_names", "save_layouts"]
