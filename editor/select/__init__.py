"""Tap to select: a mask from a few taps on the photo (positive: "this", negative: "not this").

`points` checks the taps, `work_copy` runs the selection on a ~1 MP copy of the photo and scales
the mask back to the photo's own size, `segment` finds the object (the salient-object model where
the tap is on one, else a graph cut seeded from the superpixels under the taps), `adjust` grows,
shrinks, feathers and inverts the result, and `Selector` ties them together with a small cache of
prepared photos, so a second tap on the same photo costs only the segmentation.
"""

from editor.select.adjust import Adjustments
from editor.select.points import Tap, parse_point
from editor.select.selector import Selection, Selector

__all__ = ["Adjustments", "Selection", "Selector", "Tap", "parse_point"]
