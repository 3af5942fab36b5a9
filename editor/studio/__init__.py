"""The job layer: `Studio` runs every edit, inversion, cut-out, ad and generation, for every front end.

    studio = Studio(StudioConfig(output_dir="outputs"))
    outcome = studio.edit(EditRequest(image="in.png", mask=mask, source_prompt="a white cup",
                                      target_prompt="a red cup"), JobContext(session="tab-1"))
    outcome.image, outcome.report, outcome.saved.files["result"]
"""

from editor.studio.context import JobCancelled, JobContext, Progress
from editor.studio.requests import AdBatchRequest, AdRequest, CutoutRequest, EditRequest, GenerateRequest, InvertRequest
from editor.studio.studio import (
    AdBatchOutcome,
    AdOutcome,
    CutoutOutcome,
    EditOutcome,
    GenerateOutcome,
    InvertOutcome,
    Studio,
    StudioConfig,
)

__all__ = [
    "AdBatchOutcome", "AdBatchRequest", "AdOutcome", "AdRequest", "CutoutOutcome", "CutoutRequest", "EditOutcome",
    "EditRequest", "GenerateOutcome", "GenerateRequest", "InvertOutcome", "InvertRequest", "JobCancelled", "JobContext",
    "Progress", "Studio", "StudioConfig",
]
