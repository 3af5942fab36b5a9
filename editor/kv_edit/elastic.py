"""Elastic refresh: recompute the background's keys/values only where an attention drift test says so.

KV-Edit's background keys/values (K/V) change with the noise level, but mostly slowly, and less
in some layers than in others. Two places reuse them instead of recomputing them every step:

- the inversion-free mode (`InversionFreeRefresh`, which the engine's loop calls at named points): the background K/V of the last
  source pass are kept; a source pass runs only when the drift test asks for it, and then only
  from the first drifted layer on (the shallower layers replay their cache: depth-aware). Between
  source passes the foreground's source velocity is extrapolated (first order in sigma) from the
  last two it computed. Each step still runs the foreground-only target pass.
- a stored cache (`KeyframeStore`): inversion records a layer's K/V only at keyframe steps chosen
  by the same test (a step becomes a keyframe from its first drifted layer on), at most
  `keyframe_share` of the steps per layer; an edit step reads the nearest keyframe.

The drift test (`readout`, `relative_change`). At one layer: take the foreground's queries (up to
`max_queries` of them), the `top_k` background keys they attend to most, and the attention
readout over those keys, softmax(q·k/sqrt(d))·v. Drift is the relative change of that readout.
Why this measure: a layer sees the background only through this readout, and the most-attended
keys carry most of it, so its change is the error stale K/V would cause, measured where it matters,
for queries × top_k dot products per head (no pass over the background).
- Keyframes (inversion computes the current K/V anyway): the current queries read the current K/V
  and the layer's last keyframe; the change is exactly what replaying the keyframe would do.
- Inversion-free (the current K/V are what is being saved): the foreground queries of each target
  pass read the cached K/V, against the same readout at the layer's last refresh. Queries and
  background K/V move with the same latent noise level and timestep embedding, so when the
  foreground's read of the cache has moved, the cache is stale.

Threshold 0 is the exact modes: every layer refreshed at every step, bit for bit.
"""

from __future__ import annotations

import bisect
import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import torch
from torch import Tensor

from editor.kv_edit.attention import RECORD, REPLAY, KVContext, kv_processors, recording
from editor.kv_edit.kv_stores import KVStore
from models.speed import kv_refresh

# The inversion-free store holds one step's entries under this step key, refreshed layer by layer.
_LIVE = 0


@dataclass(frozen=True)
class ElasticPolicy:
    """threshold: readout drift above which a layer is recomputed (0: every layer, every step).
    keyframe_share: a stored cache keeps at most this share of its steps per layer."""

    threshold: float = 0.0
    keyframe_share: float = 1.0
    top_k: int = 32
    max_queries: int = 256

    def __post_init__(self) -> None:
        if not (math.isfinite(self.threshold) and self.threshold >= 0):
            raise ValueError(f"threshold must be a finite number of at least 0; got {self.threshold!r}")
        if not 0 < self.keyframe_share <= 1:
            raise ValueError(f"keyframe_share must be above 0 and at most 1; got {self.keyframe_share!r}")

    @property
    def exact(self) -> bool:
        return self.threshold == 0

    @classmethod
    def for_speed(cls, setting: str, *, stored: bool) -> "ElasticPolicy":
        """The policy a speed setting stands for (models/speed.py) for a stored cache's keyframes
        (`stored`) or the inversion-free mode; exact for "exact"."""
        refresh = kv_refresh(setting)
        if refresh is None:
            return cls()
        if stored:
            return cls(refresh.keyframe_threshold, refresh.keyframe_share)
        return cls(refresh.refresh_threshold)


# --- the drift test ----------------------------------------------------------------------------


def query_rows(n: int, limit: int, device) -> Tensor:
    """At most `limit` of `n` rows, evenly spread (all of them when n <= limit)."""
    if n <= limit:
        return torch.arange(n, device=device)
    return torch.linspace(0, n - 1, limit, device=device).round().long()


def top_keys(queries: Tensor, keys: Tensor, k: int) -> Tensor:
    """Indices [B, H, k] of the keys the queries attend to most (mean softmax weight over the
    queries, background keys only). queries [B, H, n, d], keys [B, H, m, d]. One head at a time,
    so the score matrix never exceeds n × m."""
    k = min(k, keys.shape[2])
    scale = queries.shape[-1] ** -0.5
    out = torch.empty(*keys.shape[:2], k, dtype=torch.long, device=keys.device)
    for h in range(keys.shape[1]):
        weights = torch.softmax(queries[:, h].float() @ keys[:, h].float().transpose(-1, -2) * scale, dim=-1)
        out[:, h] = weights.mean(dim=1).topk(k, dim=-1).indices
    return out


def readout(queries: Tensor, keys: Tensor, values: Tensor, index: Tensor) -> Tensor:
    """softmax(q·k/sqrt(d))·v over the keys `index` selects: [B, H, n, d], float32."""
    pick = index[..., None].expand(-1, -1, -1, keys.shape[-1])
    k = keys.gather(2, pick).float()
    v = values.gather(2, pick).float()
    weights = torch.softmax(queries.float() @ k.transpose(-1, -2) * queries.shape[-1] ** -0.5, dim=-1)
    return weights @ v


def relative_change(current: Tensor, reference: Tensor) -> float:
    return float((current - reference).norm() / reference.norm().clamp_min(1e-12))


def _heads_first(x: Tensor) -> Tensor:
    return x.transpose(1, 2)  # [B, L, H, d] -> [B, H, L, d]


# --- keyframes in a stored cache ---------------------------------------------------------------


class KeyframeStore(KVStore):
    """A store that keeps keyframes only (by `KeyframeObserver`); a read of any step inversion
    evaluated gets the nearest keyframe (on a tie, the cleaner one: the one the test measured it
    against). At most `keyframe_share` of the planned steps are kept per layer (`plan`)."""

    def __init__(self, inner: KVStore, policy: ElasticPolicy):
        super().__init__(inner.device, inner.dtype)
        self.inner = inner
        self.mode = inner.mode
        self.policy = policy
        self._frames: dict[int, list[int]] = {}  # layer -> keyframe steps, ascending
        self._seen: dict[int, set[int]] = {}  # layer -> steps inversion evaluated
        self._planned = 0  # steps the inversion will have evaluated when the running extension ends
        self.first_drifted: dict[int, int] = {}  # step -> the first layer recorded for drift at that step

    # what the observer decides with

    def saw(self, step: int, layer: int) -> None:
        self._seen.setdefault(layer, set()).add(step)

    def latest(self, layer: int) -> int | None:
        """The keyframe the next (noisier) step is compared with: the lowest step recorded so far."""
        frames = self._frames.get(layer)
        return frames[0] if frames else None

    def plan(self, steps: int) -> None:
        """The inversion is being extended to `steps` evaluated steps in all: the keyframe budget."""
        self._planned = max(self._planned, steps)

    def within_budget(self, layer: int) -> bool:
        # The budget is over the planned steps, not a running share: the clean end, which inversion
        # reaches first, drifts most and may spend more of it than the noisy end needs.
        planned = max(self._planned, len(self._seen.get(layer, ())))
        return len(self._frames.get(layer, ())) < math.ceil(self.policy.keyframe_share * planned)

    # the store interface

    def nearest(self, step: int, layer: int) -> int:
        """The keyframe step read for `step` at `layer`."""
        frames = self._frames.get(layer)
        if not frames or step not in self._seen.get(layer, ()):
            raise KeyError(f"no recorded keys/values for step {step}, layer {layer}")
        i = bisect.bisect_left(frames, step)
        around = [frames[j] for j in (i - 1, i) if 0 <= j < len(frames)]
        return min(around, key=lambda frame: (abs(frame - step), -frame))

    def put(self, step: int, layer: int, key: Tensor, value: Tensor) -> None:
        self.inner.put(step, layer, key, value)
        bisect.insort(self._frames.setdefault(layer, []), step)
        self.saw(step, layer)

    def get(self, step: int, layer: int) -> tuple[Tensor, Tensor]:
        return self.inner.get(self.nearest(step, layer), layer)

    def prefetch(self, step: int, layer: int) -> None:
        try:
            self.inner.prefetch(self.nearest(step, layer), layer)
        except KeyError:
            pass

    def has(self, step: int, layer: int) -> bool:
        return step in self._seen.get(layer, ())

    def steps(self) -> list[int]:
        return sorted(set().union(*self._seen.values())) if self._seen else []

    @property
    def nbytes(self) -> int:
        return self.inner.nbytes

    def keyframes(self) -> dict[int, list[int]]:
        """layer -> keyframe steps (a copy)."""
        return {layer: list(frames) for layer, frames in sorted(self._frames.items())}

    def kept_share(self) -> float:
        """Recorded (step, layer) entries over those inversion evaluated."""
        seen = sum(len(s) for s in self._seen.values())
        return sum(len(f) for f in self._frames.values()) / seen if seen else 0.0

    def clear(self) -> None:
        self.inner.clear()
        self._frames.clear()
        self._seen.clear()
        self.first_drifted.clear()


class KeyframeObserver:
    """Installed while inverting into KeyframeStores: decides, layer by layer, which steps to keep."""

    def __init__(self, policy: ElasticPolicy, foreground_index: Tensor):
        self.policy = policy
        self.foreground_index = foreground_index
        self._rows: Tensor | None = None

    def keep(self, ctx: KVContext, layer: int, query: Tensor, key: Tensor, value: Tensor) -> bool:
        store = ctx.store
        if not isinstance(store, KeyframeStore):
            return True
        step = ctx.step
        store.saw(step, layer)
        last = store.latest(layer)
        if last is None or self.policy.exact:
            return True  # the first step of every layer is a keyframe; exact keeps every step
        if not store.within_budget(layer):
            return False
        first = store.first_drifted.get(step)
        if first is not None and first <= layer:
            return True  # a shallower layer drifted at this step: recompute from there on
        if self._rows is None:
            self._rows = query_rows(len(self.foreground_index), self.policy.max_queries, query.device)
        rows = self.foreground_index[self._rows] + ctx.image_offset(query.shape[1])
        q = _heads_first(query[:, rows])
        index = top_keys(q, key, self.policy.top_k)
        kept_key, kept_value = store.inner.get(last, layer)
        drift = relative_change(readout(q, kept_key, kept_value, index), readout(q, key, value, index))
        if drift > self.policy.threshold:
            store.first_drifted[step] = layer
            return True
        return False


def keyframed(store: KVStore | None, policy: ElasticPolicy) -> KVStore | None:
    """`store` wrapped to keep keyframes only, unless the policy is exact."""
    if store is None or policy.exact:
        return store
    return KeyframeStore(store, policy)


# --- inversion-free ----------------------------------------------------------------------------


class RefreshObserver:
    """Installed on the target pass of the elastic inversion-free mode: measures each layer's drift
    against its reference (set at the layer's last refresh) and predicts it for the next step.

    The test runs after a step's source velocity is needed, so it decides for the next step: a
    layer's drift per unit of sigma since its refresh, times the sigma distance the next step will
    be from that refresh, is the drift that step would see. Without the prediction a refresh could
    never follow a refresh (a layer refreshed at this step has no drift yet)."""

    def __init__(self, policy: ElasticPolicy, n_layers: int, n_foreground: int, image_first: bool):
        self.policy = policy
        self.n_layers = n_layers
        self.n_foreground = n_foreground
        self.image_first = image_first
        self.active = False
        self.sigma = 1.0
        self.stale = set(range(n_layers))  # layers whose reference is set by the next target pass
        self.reference: dict[int, tuple[Tensor, Tensor, float]] = {}  # layer -> (top keys, readout, sigma)
        self.rate: dict[int, float] = {}  # layer -> drift per unit of sigma, last measured
        self.drift: dict[int, Tensor | float] = {}  # this step's measured drift per layer
        self._rows: Tensor | None = None

    def refreshed(self, from_layer: int) -> None:
        self.stale.update(range(from_layer, self.n_layers))

    def start_pass(self, sigma: float) -> None:
        self.active = True
        self.sigma = sigma
        self.drift = {}

    def replayed(self, ctx: KVContext, layer: int, query: Tensor, key: Tensor, value: Tensor) -> None:
        if not self.active:
            return  # only the first (conditional) pass of a step is measured
        if layer == self.n_layers - 1:
            self.active = False
        if self._rows is None:
            self._rows = query_rows(self.n_foreground, self.policy.max_queries, query.device)
        offset = 0 if self.image_first else query.shape[1] - self.n_foreground
        q = _heads_first(query[:, self._rows + offset])
        if layer in self.stale:
            index = top_keys(q, key, self.policy.top_k)
            self.reference[layer] = (index, readout(q, key, value, index), self.sigma)
            self.stale.discard(layer)
            return
        index, reference, _ = self.reference[layer]
        # Kept on the device: one host sync per step (in first_drifted), not one per layer.
        current = readout(q, key, value, index)
        self.drift[layer] = (current - reference).norm() / reference.norm().clamp_min(1e-12)

    def first_drifted(self, next_sigma: float) -> int | None:
        """The first layer whose predicted drift at `next_sigma` exceeds the threshold."""
        if self.drift:
            layers = list(self.drift)
            values = torch.stack([self.drift[layer] for layer in layers]).tolist()
            self.drift = dict(zip(layers, values))
            for layer, drift in self.drift.items():
                sigma = self.reference[layer][2]
                if sigma != self.sigma:
                    self.rate[layer] = drift / abs(sigma - self.sigma)
        for layer in range(self.n_layers):
            rate = self.rate.get(layer)
            if rate is not None and rate * abs(self.reference[layer][2] - next_sigma) > self.policy.threshold:
                return layer
        return None


class BackgroundStates:
    """The background rows of each block's image input, from the last pass that computed them:
    where a depth-aware refresh restarts the background."""

    def __init__(self, background_index: Tensor, image_rows: int):
        self.background_index = background_index
        self.image_rows = image_rows
        self.rows: dict[int, Tensor] = {}

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.rows.values())

    @contextmanager
    def recording(self, blocks, from_layer: int = 0) -> Iterator[None]:
        def saver(layer: int):
            def save(_module, args, kwargs):
                states = kwargs[blocks.image_kwarg]
                if states.shape[1] == self.image_rows:
                    self.rows[layer] = states[:, self.background_index].clone()
            return save

        handles = [blocks.blocks[layer].register_forward_pre_hook(saver(layer), with_kwargs=True)
                   for layer in range(from_layer, len(blocks.blocks))]
        try:
            yield
        finally:
            for h in handles:
                h.remove()

    def full(self, layer: int, foreground: Tensor, foreground_index: Tensor) -> Tensor:
        background = self.rows[layer]
        out = foreground.new_empty((foreground.shape[0], self.image_rows, foreground.shape[-1]))
        out[:, foreground_index] = foreground
        out[:, self.background_index] = background.to(foreground.dtype)
        return out


@contextmanager
def _starting_at(blocks, from_layer: int, states: BackgroundStates, foreground_index: Tensor,
                 rotary) -> Iterator[None]:
    """From block `from_layer` on, the pass carries all image rows: the foreground's from the pass,
    the background's from `states`, with the rotary table of every row."""
    def expand(_module, args, kwargs):
        kwargs[blocks.image_kwarg] = states.full(from_layer, kwargs[blocks.image_kwarg], foreground_index)
        kwargs[blocks.rotary_kwarg] = rotary
        return args, kwargs

    def all_rows(_module, args, kwargs):
        kwargs[blocks.rotary_kwarg] = rotary
        return args, kwargs

    handles = [blocks.blocks[from_layer].register_forward_pre_hook(expand, with_kwargs=True)]
    handles += [b.register_forward_pre_hook(all_rows, with_kwargs=True) for b in blocks.blocks[from_layer + 1:]]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def source_pass_from(engine, blocks, states: BackgroundStates, ctx: KVContext, store: KVStore, from_layer: int,
                     z_source: Tensor, prompt, sigma: float, guidance: float) -> Tensor:
    """One source pass that replays layers below `from_layer` for the text and foreground rows
    (over the cached background) and recomputes every row from `from_layer` on, recording the
    background's keys/values and block inputs there. Returns the foreground's velocity."""
    fg = engine.fg_index
    ctx.store = store
    role = (lambda layer: RECORD if layer >= from_layer else REPLAY)
    with kv_processors(engine.layers, ctx, role), \
            _starting_at(blocks, from_layer, states, fg, blocks.rotary(engine.image_ids)), \
            states.recording(blocks, from_layer):
        return engine.family.predict(z_source[:, fg], engine.fg_ids, prompt, sigma, guidance)[:, fg]


@dataclass
class RefreshLog:
    """What the elastic inversion-free mode recomputed, for the report."""

    steps: int = 0
    refreshes: list[tuple[int, int]] = field(default_factory=list)  # (step, first layer recomputed)
    n_layers: int = 1

    @property
    def source_passes(self) -> float:
        """Source passes in full-pass units: a refresh from layer l counts (layers - l) / layers."""
        return sum((self.n_layers - layer) / self.n_layers for _, layer in self.refreshes)

    def report(self, policy: ElasticPolicy) -> dict:
        per_layer = [sum(1 for _, first in self.refreshes if first <= layer) for layer in range(self.n_layers)]
        return {
            "threshold": policy.threshold,
            "steps": self.steps,
            "refreshes": [{"step": step, "from_layer": layer} for step, layer in self.refreshes],
            "source_passes": self.source_passes,
            "source_passes_per_step": self.source_passes / max(1, self.steps),
            "layer_refreshes": per_layer,
        }


class InversionFreeRefresh:
    """The source side of the engine's inversion-free loop, for one edit, called at three named
    points of each step: `source_velocity` (a full source pass recording the one-step cache, a pass
    from the first drifted layer on, or the velocity extrapolated between passes), `target_pass`
    (around the foreground-only pass, which the observer watches) and `decide` (whether the next
    step refreshes, and from which layer). With an exact policy a full source pass runs at every
    step and nothing else: the loop is the plain inversion-free mode."""

    def __init__(self, engine, source, source_ctx: KVContext, stores: tuple[KVStore, KVStore | None],
                 policy: ElasticPolicy, guidance: float):
        self.engine = engine
        self.policy = policy
        self.source = source
        self.source_ctx = source_ctx
        self.stores = stores  # (conditional, unconditional or None): the one-step cache the passes record
        self.guidance = guidance
        self.from_layer: int | None = 0  # the next source pass recomputes from here; None: no pass
        self.transformer_calls = 0
        self.peak_bytes = 0  # the cache and kept block inputs, at their largest
        self.blocks = None
        self.observer: RefreshObserver | None = None
        self.states = BackgroundStates(engine.bg_index, engine.image_rows)
        self.log = RefreshLog(n_layers=engine.n_layers)
        self._history: list[tuple[float, Tensor]] = []
        if policy.exact:
            return
        # A depth-aware refresh starts a pass mid-way over one source branch's cache, without the
        # foreground/background separation; otherwise every refresh recomputes all layers.
        if source.unconditional is None and source_ctx.foreground is None:
            self.blocks = engine.family.block_inputs(source.prompt)
        self.observer = RefreshObserver(policy, engine.n_layers, len(engine.fg_index), engine.family.image_first)

    def watched(self, target_ctx: KVContext) -> KVContext:
        """The target passes' context, with the drift observer on it when elastic."""
        target_ctx.replay_observer = self.observer
        return target_ctx

    def key(self, step: int) -> int:
        """The store key of this step's keys/values: elastic passes keep one step's entries under
        one key and replace them layer by layer."""
        return step if self.policy.exact else _LIVE

    # -- named point 1: the source velocity of a step --------------------------------------------

    def source_velocity(self, step: int, sigma: float, z_source: Tensor) -> Tensor:
        """The foreground's source velocity at `sigma` for the noised source `z_source`."""
        self.source_ctx.step = self.key(step)
        if not self.due:
            return self._extrapolated(sigma)
        velocity = self._full_pass(z_source, sigma) if self.full else self._partial_pass(z_source, sigma)
        self.log.refreshes.append((step, 0 if self.full else self.from_layer))
        if self.observer is not None:
            self.observer.refreshed(self.log.refreshes[-1][1])
        self._history = [*self._history[-1:], (sigma, velocity)]
        cache = sum(store.nbytes for store in self.stores if store is not None)
        self.peak_bytes = max(self.peak_bytes, cache + (self.states.nbytes if self.blocks is not None else 0))
        return velocity

    @property
    def due(self) -> bool:
        return self.from_layer is not None

    @property
    def full(self) -> bool:
        return self.from_layer == 0 or self.blocks is None

    def _full_pass(self, z_source: Tensor, sigma: float) -> Tensor:
        engine = self.engine
        for store in self.stores:
            if store is not None:
                store.clear()
        # A full pass also keeps each block's background input, where a later partial pass restarts.
        states = self.states.recording(self.blocks) if self.blocks is not None else _nothing()
        with recording(engine.layers, self.source_ctx), states:
            velocity = engine.velocity(z_source, engine.image_ids, self.source, sigma, self.guidance,
                                       self.source_ctx, self.stores)
        self.transformer_calls += 1 if self.source.unconditional is None else 2
        return velocity[:, engine.fg_index]

    def _partial_pass(self, z_source: Tensor, sigma: float) -> Tensor:
        self.transformer_calls += 1
        return source_pass_from(self.engine, self.blocks, self.states, self.source_ctx, self.stores[0],
                                self.from_layer, z_source, self.source.prompt, sigma, self.guidance)

    def _extrapolated(self, sigma: float) -> Tensor:
        """The foreground's source velocity at `sigma` from the last two fresh ones (linear in sigma)."""
        if len(self._history) == 1:
            return self._history[-1][1]
        (s0, v0), (s1, v1) = self._history[-2], self._history[-1]
        return v1 + (sigma - s1) / (s1 - s0) * (v1 - v0)

    # -- named point 2: around the target pass ---------------------------------------------------

    @contextmanager
    def target_pass(self, sigma: float) -> Iterator[None]:
        if self.observer is not None:
            self.observer.start_pass(sigma)
        yield

    # -- named point 3: after the step -----------------------------------------------------------

    def decide(self, next_sigma: float) -> None:
        self.log.steps += 1
        self.from_layer = 0 if self.observer is None else self.observer.first_drifted(next_sigma)

    def close(self) -> dict | None:
        """Free the cache and what it kept; the report for `EngineRun.extra["elastic"]` (None when exact)."""
        for store in self.stores:
            if store is not None:
                store.clear()
        self.states.rows.clear()
        self._history.clear()
        return None if self.policy.exact else self.log.report(self.policy)


@contextmanager
def _nothing() -> Iterator[None]:
    yield
