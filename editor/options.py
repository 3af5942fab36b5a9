"""Every option a job takes, declared once: name, kind, limits, default, label and help.

Like a ComfyUI node's input types, the declaration is the one place an option's limits live. The
requests check their fields against it (`check_all`), the engine's `EditOptions` does too, the CLI
makes its flags from it (editor/commands/option_flags.py), the UI makes its controls from it
(ui/option_controls.py), and the saved inputs a browser restores are read back through it. So a
value refused in one place is refused everywhere, with the same one-line message.

Defaults that depend on the model (steps, guidance) come from `edit_option_defaults(model)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from editor.errors import InputError
from editor.limits import MAX_IMAGES, MAX_SEED, MAX_STEPS
from editor.presets import MAX_SIDE, MIN_SIDE, SIDE_MULTIPLE
from editor.validation import choice, flag, number, shown, whole
from models.families import FAMILIES
from models.registry import get_spec
from models.vocabulary import AUTO, CFG, EMBEDDED, EXACT, KV_CACHE_MODES, SPEED_SETTINGS

OptionKind = Literal["whole", "number", "flag", "choice"]

# The KV-Edit paper's default share of skipped (noisiest) steps: 4 of 28.
SKIP_SHARE = 4 / 28
# What a request may ask for as the KV cache: a store mode, inversion-free, or AUTO (the plan picks).
KV_CACHE_CHOICES = (AUTO, *KV_CACHE_MODES)
MAX_GUIDANCE = 20.0


@dataclass(frozen=True)
class Option:
    """One option of a job. `low`/`high` are inclusive unless `above_low` (then low is excluded);
    `multiple_of` further restricts whole numbers (picture sides). `optional` options accept None,
    which means "the model's default" (or, for a seed, a random one)."""

    name: str  # the request field
    kind: OptionKind
    default: Any
    low: float | None = None
    high: float | None = None
    step: float | None = None  # the UI control's step
    choices: tuple = ()
    expert: bool = False  # shown in the closed "expert settings" section
    optional: bool = False
    above_low: bool = False
    multiple_of: int | None = None
    what: str | None = None  # the field's name in messages, when it is not the field's own name
    doc: str = ""  # one line of English for the CLI's --help (the UI's texts are i18n keys)
    cli_flag: str | None = None  # when the flag is not the field's name with dashes

    @property
    def label(self) -> str:
        """i18n key of the control's label."""
        return f"option.{self.name}"

    @property
    def help(self) -> str:
        """i18n key of the control's help text."""
        return f"option.{self.name}.help"

    @property
    def flag(self) -> str:
        """The CLI flag that sets it."""
        return self.cli_flag or "--" + self.name.replace("_", "-")

    def check(self, value):
        """`value` when this option accepts it, else one InputError naming the field."""
        if value is None and self.optional:
            return None
        what = self.what or self.name
        if self.kind == "flag":
            return flag(self.name, value)
        if self.kind == "choice":
            return choice(self.name, value, self.choices, what)
        if self.kind == "whole":
            whole(self.name, value, int(self.low), int(self.high), what)
            if self.multiple_of and value % self.multiple_of:
                raise InputError(f"The {what} must be a multiple of {self.multiple_of} from {self.low} to "
                                 f"{self.high}, got {shown(value)}.", key="bad_side", field=self.name, name=what,
                                 multiple=self.multiple_of, low=self.low, high=self.high, value=shown(value))
            return value
        value = number(self.name, value, self.low, self.high, what)
        if self.above_low and value <= self.low:
            raise InputError(f"{what[:1].upper()}{what[1:]} must be above {self.low:g} and at most {self.high:g}; got {shown(value)}.",
                             key="bad_number", field=self.name, name=what, low=f"{self.low:g}",
                             high=f"{self.high:g}", value=shown(value))
        return value


def _steps() -> Option:
    return Option("steps", "whole", None, 1, MAX_STEPS, 1, optional=True, doc="diffusion steps (default: the model's)")


def _seed(default, optional=False, doc="random seed") -> Option:
    return Option("seed", "whole", default, 0, MAX_SEED, 1, optional=optional, doc=doc)


def _guidance() -> Option:
    return Option("guidance", "number", None, 0.0, MAX_GUIDANCE, 0.1, optional=True,
                  doc="how closely the picture follows the prompt (default: the model's)")


def _speed(doc: str) -> Option:
    return Option("speed", "choice", EXACT, choices=SPEED_SETTINGS, what="speed setting", doc=doc)


# A KV-Edit (and its inversion). None defaults follow the model (`edit_option_defaults`).
EDIT_OPTIONS: tuple[Option, ...] = (
    _steps(),
    Option("skip_steps", "whole", None, 0, MAX_STEPS - 1, 1, expert=True, optional=True,
           doc="noisiest steps to skip; more keeps more of the photo's layout (default: follows --steps, 4 of 28)"),
    Option("inversion_guidance", "number", None, 0.0, MAX_GUIDANCE, 0.1, expert=True, optional=True,
           doc="guidance while the photo is inverted (default: the model's)"),
    _guidance(),
    Option("re_init", "flag", False, doc="restart the region from noise (bigger changes, e.g. replacing an object)"),
    Option("attn_mask", "flag", False, expert=True,
           doc="keep background and region apart during inversion (needed to remove objects)"),
    Option("attn_scale", "number", 1.0, 0.0, 5.0, 0.05, expert=True,
           doc="extra attention to the background while the region is redrawn"),
    _seed(42),
    Option("kv_cache", "choice", AUTO, choices=KV_CACHE_CHOICES, expert=True, what="KV cache mode",
           doc="where the recorded keys/values live: auto (the memory plan chooses), device, cpu, fp8, int8, or "
               "none (inversion-free, least memory)"),
    Option("feather_px", "whole", 8, 0, 256, 1, expert=True, cli_flag="--feather",
           doc="width of the seam blend band inside the mask, in pixels"),
    _speed("exact, fast or fastest: the background keys/values refresh only when they drift (elastic), "
           "trading a little fidelity for speed"),
)

# A generation (text-to-image, image-to-image, inpaint). None: the preset's or the model's value.
GENERATE_OPTIONS: tuple[Option, ...] = (
    Option("width", "whole", None, MIN_SIDE, MAX_SIDE, SIDE_MULTIPLE, optional=True, multiple_of=SIDE_MULTIPLE,
           doc="picture width in pixels"),
    Option("height", "whole", None, MIN_SIDE, MAX_SIDE, SIDE_MULTIPLE, optional=True, multiple_of=SIDE_MULTIPLE,
           doc="picture height in pixels"),
    _steps(),
    _guidance(),
    _seed(None, optional=True, doc="random seed (default: a new one, recorded in the report)"),
    Option("strength", "number", 0.6, 0.0, 1.0, 0.05, above_low=True,
           doc="image-to-image: how much may change (near 0 keeps the input, 1 ignores it)"),
    Option("num_images", "whole", 1, 1, MAX_IMAGES, 1, what="number of images", doc="pictures to make"),
    Option("style_weight", "number", None, -2.0, 2.0, 0.05, expert=True, optional=True, what="style weight",
           doc="how strongly the style applies (default: the style's own)"),
    _speed("exact, fast or fastest: diffusers step caches reuse features across steps (and torch.compile on "
           "CUDA), trading a little fidelity for speed"),
)


def option_named(options: Iterable[Option], name: str) -> Option:
    for option in options:
        if option.name == name:
            return option
    raise KeyError(name)


def check_all(options: Iterable[Option], values: Any) -> None:
    """Check every declared option on `values` (a request: its attributes; or a mapping)."""
    get = values.get if isinstance(values, Mapping) else lambda name, default=None: getattr(values, name, default)
    for option in options:
        option.check(get(option.name, option.default))


def default_skip_steps(steps: int) -> int:
    """The official KV-Edit setting skips 4 of 28 steps; other step counts keep that share,
    rounded, and always leave at least one step to run (1 step: skip 0; 4 steps: skip 1)."""
    return min(max(0, round(steps * SKIP_SHARE)), max(0, steps - 1))


def edit_option_defaults(model: str) -> dict[str, Any]:
    """Every edit option's starting value for `model`: its own step count (the paper's 28 for
    FLUX.1 [dev] and klein Base) with skipped steps following it; guidance as the model reads it.
    Guidance-embedded models (FLUX.1 [dev]) keep the official 1.5 / 5.5; true-CFG models invert
    without CFG (one pass) and edit at their default guidance; models without guidance ignore it."""
    spec = get_spec(model)
    values = {option.name: option.default for option in EDIT_OPTIONS}
    values.update(steps=spec.default_steps, skip_steps=default_skip_steps(spec.default_steps),
                  inversion_guidance=1.5, guidance=5.5)
    if spec.guidance_kind == CFG:
        values.update(inversion_guidance=FAMILIES[spec.family].cfg_above, guidance=spec.default_guidance)
    elif spec.guidance_kind != EMBEDDED:
        values.update(inversion_guidance=spec.default_guidance, guidance=spec.default_guidance)
    return values
