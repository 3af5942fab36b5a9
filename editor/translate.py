"""Korean prompts: find Hangul, keep ad copy away from the model, translate when the model needs it.

Backends, in order of preference for a model whose text encoder does not read Korean:
  "marian"       Helsinki-NLP/opus-mt-ko-en when it is on this machine (models.translation),
  "glossary"     the embedded ad-domain glossary (assets/glossary_ko_en.json), always offline.
Models that read Korean (Z-Image's Qwen encoder) get the text as written: "pass-through".
Prompts without Hangul are left alone: "none".

Ad copy, text the user wants printed on the picture, is written in quotes ("신메뉴 출시",
“오픈 기념”, 「할인」). It is removed before anything reaches a translator or a text encoder:
image models draw letters badly, so the ad workflow types it onto the image afterwards.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from models.registry import ModelSpec, get_spec

log = logging.getLogger(__name__)

GLOSSARY_PATH = Path(__file__).resolve().parents[1] / "assets" / "glossary_ko_en.json"

# Hangul syllables, Jamo, compatibility Jamo, Jamo extended A/B.
_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\ud7b0-\ud7ff]")
# Quote pairs that mark ad copy. A lone ASCII apostrophe is not one (it appears in English words).
_AD_COPY = re.compile(r'"([^"]*)"|“([^”]*)”|‘([^’]*)’|「([^」]*)」|『([^』]*)』')


def contains_hangul(text: str) -> bool:
    return bool(_HANGUL.search(text or ""))


def split_ad_copy(text: str) -> tuple[str, tuple[str, ...]]:
    """(prompt without the quoted parts, the quoted parts in order)."""
    copies = tuple(next(g for g in m.groups() if g is not None).strip() for m in _AD_COPY.finditer(text))
    rest = _AD_COPY.sub(" ", text)
    return _tidy(rest), tuple(c for c in copies if c)


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.!?;:])", r"\1", text)
    text = re.sub(r"([,;])(\s*[,;])+", r"\1", text)
    return text.strip(" ,;")


@dataclass(frozen=True)
class Translation:
    text: str  # what the text encoder gets
    source_text: str  # what the user wrote
    backend: str  # "none" | "pass-through" | "marian" | "glossary"
    ad_copy: tuple[str, ...] = ()  # quoted text for the picture; never sent to the model
    untranslated: tuple[str, ...] = ()  # Korean words the glossary did not know (left out)
    notes: tuple[str, ...] = ()

    @property
    def hangul_detected(self) -> bool:
        return contains_hangul(self.source_text)

    def to_report(self) -> dict:
        return {
            "backend": self.backend,
            "source_text": self.source_text,
            "text": self.text,
            "hangul_detected": self.hangul_detected,
            "ad_copy": list(self.ad_copy),
            "untranslated": list(self.untranslated),
            "notes": list(self.notes),
        }


class Glossary:
    """Word-level Korean→English for ad prompts. Longest match wins; particles are dropped."""

    def __init__(self, terms: dict[str, str], particles: list[str]):
        self.terms = {k.strip(): v.strip() for k, v in terms.items() if k.strip()}
        self.particles = sorted({p for p in particles if p}, key=len, reverse=True)
        self._max_len = max((len(k) for k in self.terms), default=0)

    @classmethod
    def load(cls, path: Path = GLOSSARY_PATH) -> Glossary:
        data = json.loads(path.read_text(encoding="utf-8"))
        terms: dict[str, str] = {}
        for category in data["categories"].values():
            terms.update(category)
        return cls(terms, data.get("particles", []))

    def _term_at(self, text: str, pos: int) -> str | None:
        for length in range(min(self._max_len, len(text) - pos), 0, -1):
            candidate = text[pos : pos + length]
            if candidate in self.terms and not candidate.endswith(" "):
                return candidate
        return None

    def _only_particles(self, rest: str) -> bool:
        """True when `rest` is a chain of particles/endings, e.g. "에서의"."""
        if not rest:
            return True
        return any(rest.startswith(p) and self._only_particles(rest[len(p) :]) for p in self.particles)

    def translate(self, text: str) -> tuple[str, tuple[str, ...]]:
        out: list[str] = []
        unknown: list[str] = []
        pos, n = 0, len(text)
        while pos < n:
            ch = text[pos]
            if not _HANGUL.match(ch):
                out.append(ch)
                pos += 1
                continue
            # One Hangul word: a run up to the next space or non-Hangul character. A term may
            # start only where the word starts or where the previous term ended (compounds such
            # as 카페라떼), so that e.g. 자동차 is not read as 자동 + 차 "tea".
            end = pos
            while end < n and _HANGUL.match(text[end]):
                end += 1
            words: list[str] = []
            while pos < end:
                term = self._term_at(text, pos)
                if term is not None:
                    words.append(self.terms[term])
                    pos += len(term)
                    # A phrase term ("한 잔") may run past this word; re-find its end.
                    end = max(end, pos)
                    while end < n and _HANGUL.match(text[end]):
                        end += 1
                    continue
                rest = text[pos:end]
                if not self._only_particles(rest):
                    unknown.append(rest)
                pos = end
            if words:
                out.append(" " + " ".join(words) + " ")
        return _tidy("".join(out)), tuple(unknown)


class Translator:
    """Chooses a backend per prompt and target model. One per app (it owns the Marian model)."""

    def __init__(self, marian=None, use_marian: bool = True, glossary: Glossary | None = None):
        # `marian`: a models.translation.MarianTranslator (made on first need when None).
        self._marian = marian
        self.use_marian = use_marian
        self._glossary = glossary
        self._lock = threading.Lock()

    @cached_property
    def glossary(self) -> Glossary:
        return self._glossary or Glossary.load()

    def marian(self):
        if not self.use_marian:
            return None
        with self._lock:
            if self._marian is None:
                from models.translation import MarianTranslator

                self._marian = MarianTranslator()
            # Checked on every call: a model fetched while the app runs is picked up.
            if not self._marian.loaded and not self._marian.available():
                return None
            return self._marian

    def translate(self, text: str, spec: ModelSpec) -> Translation:
        source = text or ""
        prompt, ad_copy = split_ad_copy(source)
        if not contains_hangul(prompt):
            return Translation(prompt, source, "none", ad_copy)
        if spec.reads_korean:
            return Translation(prompt, source, "pass-through", ad_copy,
                               notes=(f"{spec.name} reads Korean; prompt passed as written",))
        notes: list[str] = []
        marian = self.marian()
        if marian is not None:
            try:
                english = marian.translate([prompt])[0]
                return Translation(_tidy(english), source, "marian", ad_copy)
            except Exception as exc:  # a broken model folder must not stop generation
                log.exception("Marian translation failed")
                notes.append(f"Marian translation failed ({type(exc).__name__}: {exc}); used the glossary")
        else:
            notes.append("opus-mt-ko-en is not installed (python -m models download opus-mt-ko-en); used the glossary")
        english, unknown = self.glossary.translate(prompt)
        if unknown:
            notes.append("not in the glossary, left out: " + ", ".join(unknown))
        return Translation(english, source, "glossary", ad_copy, unknown, tuple(notes))


def translate_prompt(text: str, target_model_spec: ModelSpec | str, translator: Translator | None = None) -> Translation:
    """The agreed entry point. Pass the app's Translator to reuse a loaded Marian model."""
    spec = get_spec(target_model_spec) if isinstance(target_model_spec, str) else target_model_spec
    return (translator or Translator()).translate(text, spec)
