"""Shop ads: cut the product out, put it on a background, lay out Korean text, export formats.

Works offline without any generative model (uploaded or procedural backgrounds); with a model
manager it can also generate the background from a prompt or around the product (KV-Edit).
"""

from editor.ad.cutout import CutOut, RembgSessions, correct_alpha, cut_out, remover_names
from editor.ad.formats import FORMATS, get_format
from editor.ad.workflow import AdRequest, AdResult, AdWorkflow, PlacementRequest

__all__ = ["AdRequest", "AdResult", "AdWorkflow", "CutOut", "FORMATS", "PlacementRequest", "RembgSessions",
           "correct_alpha", "cut_out", "get_format", "remover_names"]
