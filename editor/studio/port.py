"""`StudioPort`: what a front end may call on the job layer, whoever answers it.

The app is given either a `Studio` (jobs run in its own process) or a `serving.StudioClient`
(jobs run on Ray Serve replicas). Both implement this Protocol, and a test
(tests/architecture/test_studio_port.py) fails when either lacks a method the other has or one
that the port names, so a method added to one side cannot silently be missing on the other (as
`translate_preview` once was on the client).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from editor.ad.brand import BrandStore
    from editor.select.request import SelectOutcome, SelectRequest
    from editor.studio.context import JobContext
    from editor.studio.requests import (
        AdBatchRequest,
        AdRequest,
        CutoutRequest,
        EditRequest,
        GenerateRequest,
        InvertRequest,
    )
    from editor.studio.studio import (
        AdBatchOutcome,
        AdOutcome,
        CutoutOutcome,
        EditOutcome,
        GenerateOutcome,
        InvertOutcome,
        SavedResult,
        StudioConfig,
    )
    from editor.translate import Translation


@runtime_checkable
class StudioPort(Protocol):
    config: StudioConfig
    last_plan: dict | None  # the memory plan of the latest model job (the Status tab shows it)
    replicas_restarting: bool  # serving: the replicas did not answer the last question in time

    # --- jobs: a typed request in, a typed outcome out (or one IntactError) ---------------------
    def edit(self, request: EditRequest, context: JobContext | None = None) -> EditOutcome: ...
    def invert(self, request: InvertRequest, context: JobContext | None = None) -> InvertOutcome: ...
    def cutout(self, request: CutoutRequest, context: JobContext | None = None) -> CutoutOutcome: ...
    def select(self, request: SelectRequest, context: JobContext | None = None) -> SelectOutcome: ...
    def prepare_select(self, image: Any, session: str | None = None) -> bool: ...
    def make_ad(self, request: AdRequest, context: JobContext | None = None) -> AdOutcome: ...
    def make_ads_batch(self, request: AdBatchRequest, context: JobContext | None = None) -> AdBatchOutcome: ...
    def generate(self, request: GenerateRequest, context: JobContext | None = None) -> GenerateOutcome: ...

    # --- a client's session --------------------------------------------------------------------
    def cancel(self, session: str) -> bool: ...
    def forget(self, session: str) -> None: ...

    # --- listings and previews (cheap: load no diffusion model) ---------------------------------
    def models(self, task: str | None = None) -> list: ...
    def default_model(self, task: str | None = None, preferred: str | None = None) -> str: ...
    def styles(self) -> dict: ...
    def presets(self) -> dict: ...
    def data_problems(self) -> list: ...
    def plan_preview(self, model: str) -> Any: ...
    def resident(self) -> tuple[str | None, list[str]]: ...
    def translate_preview(self, text: str, model: str | None, task: str = ...) -> Translation: ...

    # --- saved results and brand kits -------------------------------------------------------------
    @property
    def brands(self) -> BrandStore: ...
    def saved_results(self, owner: str | None = None, only_owner: bool = False, limit: int = 200) -> list[SavedResult]: ...
    def delete_result(self, job_id: str, owner: str | None) -> bool: ...


def port_members() -> frozenset[str]:
    """The names the port declares (methods, properties and attributes)."""
    names = {name for name in vars(StudioPort) if not name.startswith("_")}
    names |= set(StudioPort.__annotations__)
    return frozenset(names)
