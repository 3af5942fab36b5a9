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
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from editor.errors import InputError
from editor.notices import Notice
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


# How far to trust the text the model gets, so a front end knows whether to show it for editing.
EXACT = "exact"  # nothing was translated (English, a model that reads Korean, or the user's own edit)
MODEL = "model"  # the translator model translated it
HIGH = "high"  # the word list knew every word and the phrase's word order
LOW = "low"  # the word list left words out


@dataclass(frozen=True)
class Translation:
    text: str  # what the text encoder gets
    source_text: str  # what the user wrote
    backend: str  # "none" | "pass-through" | "marian" | "glossary" | "edited"
    ad_copy: tuple[str, ...] = ()  # quoted text for the picture; never sent to the model
    untranslated: tuple[str, ...] = ()  # Korean words the glossary did not know (left out)
    notes: tuple[str, ...] = ()  # for the log and the operator
    confidence: str = EXACT  # EXACT | MODEL | HIGH | LOW
    notices: tuple[Notice, ...] = ()  # for the user, in their language

    @property
    def hangul_detected(self) -> bool:
        return contains_hangul(self.source_text)

    @property
    def editable(self) -> bool:
        """True when the English prompt should be shown to the user to check and edit."""
        return self.backend in ("marian", "glossary")

    def edited(self, english: str) -> Translation:
        """This translation with the user's own English prompt (from the editable field)."""
        return replace(self, text=_tidy(english), backend="edited", untranslated=(), confidence=EXACT, notices=())

    def to_report(self) -> dict:
        return {
            "backend": self.backend,
            "source_text": self.source_text,
            "text": self.text,
            "hangul_detected": self.hangul_detected,
            "ad_copy": list(self.ad_copy),
            "untranslated": list(self.untranslated),
            "notes": list(self.notes),
            "confidence": self.confidence,
            "editable": self.editable,
            "notices": [n.to_report() for n in self.notices],
        }


@dataclass
class _Word:
    """One Korean word (a stem and its particles) as the phrase reader sees it."""

    english: str = ""
    role: str = "word"  # "word" | "place" | "number" | "counter" | "together" | "literal"
    relation: str = ""  # "" | "of" | "at" | "and" | "with": what its particles say about the next word
    count: int = 0  # numbers
    unit: tuple[str, str] = ("", "")  # counters: singular, plural


@dataclass(frozen=True)
class Grammar:
    """The word-order tables of the glossary file (see its "grammar" section)."""

    places: dict[str, str] = field(default_factory=dict)
    relations: dict[str, str] = field(default_factory=dict)  # particle -> relation
    together: frozenset[str] = frozenset()
    numbers: dict[str, int] = field(default_factory=dict)
    number_words: tuple[str, ...] = ()
    counters: dict[str, tuple[str, str]] = field(default_factory=dict)
    place_nouns: frozenset[str] = frozenset()  # "X의 Y" -> "Y in X"
    on_nouns: frozenset[str] = frozenset()  # "X의 Y" -> "Y on X"
    with_nouns: frozenset[str] = frozenset()  # "X의 Y" -> "Y with X"
    uncountable: frozenset[str] = frozenset()

    @classmethod
    def from_json(cls, data: dict) -> Grammar:
        relations = {particle: relation for relation, particles in data.get("relations", {}).items() for particle in particles}
        return cls(dict(data.get("places", {})), relations, frozenset(data.get("together", ())),
                   dict(data.get("numbers", {})), tuple(data.get("number_words", ())),
                   {k: tuple(v) for k, v in data.get("counters", {}).items()}, frozenset(data.get("place_nouns", ())),
                   frozenset(data.get("on_nouns", ())), frozenset(data.get("with_nouns", ())), frozenset(data.get("uncountable", ())))

    def number_word(self, n: int) -> str:
        return self.number_words[n] if 0 < n < len(self.number_words) else str(n)

    def needs_article(self, phrase: str) -> bool:
        words = phrase.split()
        if not words or words[0] in {"a", "an", "the", "by", "with", *self.number_words[1:]} or words[0].isdigit():
            return False
        head = phrase.rsplit(" of ", 1)[-1]
        return not (head in self.uncountable or words[-1] in self.uncountable or words[-1].endswith("s"))

    def with_article(self, phrase: str) -> str:
        if not self.needs_article(phrase):
            return phrase
        return ("an " if phrase[0].lower() in "aeio" else "a ") + phrase

    def genitive(self, dependent: str) -> str:
        """The English preposition for "X의 Y" (Y <prep> X), from X's head noun."""
        head = dependent.split()[-1] if dependent else ""
        if dependent in self.place_nouns or head in self.place_nouns:
            return "in"
        if head in self.on_nouns:
            return "on"
        return "with" if head in self.with_nouns else "of"


def _plural(phrase: str) -> str:
    if phrase.endswith("s"):
        return phrase
    return phrase[:-1] + "ies" if phrase.endswith("y") and phrase[-2:-1] not in "aeiou" else phrase + "s"


class _PhraseReader:
    """Puts one clause's words into English order.

    Korean modifiers come before their head: "나무 테이블 위의 커피 한 잔" is [wooden table]
    [on] [coffee] [a cup of], and English wants "a cup of coffee on a wooden table". Each
    relation word (위의, 에서, 의) turns the phrase read so far into a dependent waiting for its
    head; when the clause ends, the head comes first and the dependents follow, innermost last.
    """

    def __init__(self, grammar: Grammar):
        self.g = grammar
        self.phrase: list[str] = []  # the noun phrase being read
        self.conjuncts: list[str] = []  # phrases joined by "and", waiting for the last one
        self.dependents: list[tuple[str, str]] = []  # (preposition, phrase) waiting for their head
        self.count = 0  # a number waiting for its counter or noun

    def _take(self) -> str:
        text = " and ".join([*self.conjuncts, " ".join(self.phrase)]) if self.phrase else " and ".join(self.conjuncts)
        self.phrase, self.conjuncts = [], []
        return text.strip()

    def _quantity(self, unit: tuple[str, str]) -> None:
        noun = " ".join(self.phrase)
        singular, plural = unit
        if singular:
            measure = f"a {singular} of" if self.count == 1 else f"{self.g.number_word(self.count)} {plural} of"
            self.phrase = [measure, noun] if noun else [measure]
        elif noun:
            self.phrase = [self.g.with_article(noun)] if self.count == 1 else [self.g.number_word(self.count), _plural(noun)]
        self.count = 0

    def read(self, word: _Word) -> None:
        if word.role == "number":
            self.count = word.count
        elif word.role == "counter":
            self._quantity(word.unit)
        elif word.role == "place":
            landmark = self._take()
            if landmark:  # no landmark (a word left out): a bare "on" would only mislead
                self.dependents.append((word.english, self.g.with_article(landmark)))
        elif word.role == "together":
            if self.conjuncts and not self.phrase:  # "X와 함께 Y": Y with X
                self.dependents.append(("with", self.g.with_article(self.conjuncts.pop())))
            else:
                self.phrase.append("together")
        elif word.english:
            if self.count:  # a number right before a noun: "두 사람"
                self.phrase.append(self.g.number_word(self.count))
                self.count = 0
            self.phrase.append(word.english)
        if word.relation and word.role != "place":
            self._relate(word.relation)

    def _relate(self, relation: str) -> None:
        if relation == "and":
            if self.phrase:
                self.conjuncts.append(" ".join(self.phrase))
                self.phrase = []
            return
        dependent = self._take()
        if not dependent:
            return
        if relation == "of":
            self.dependents.append((self.g.genitive(dependent), self.g.with_article(dependent)))
        elif relation == "with":
            self.dependents.append(("with", self.g.with_article(dependent)))
        elif dependent.split()[0] in {"by", "in", "on", "at", "under", "inside", "near", "behind", "next"}:
            self.dependents.append(("", dependent))  # the gloss has its preposition already: "by the window"
        else:
            self.dependents.append(("in", self.g.with_article(dependent)))

    def english(self) -> str:
        head = self._take()
        if head and self.dependents:
            head = self.g.with_article(head)
        parts = [head] + [f"{prep} {phrase}".strip() for prep, phrase in reversed(self.dependents)]
        return " ".join(p for p in parts if p)


class Glossary:
    """Korean→English for ad prompts without a translator model: the ad-domain word list, longest
    match inside a word, particles dropped, and the phrase's word order turned into English
    (`_PhraseReader`) so "나무 테이블 위의 커피 한 잔" becomes "a cup of coffee on a wooden table"."""

    def __init__(self, terms: dict[str, str], particles: list[str], grammar: Grammar | None = None):
        self.grammar = grammar or Grammar()
        self.terms = {k.strip(): v.strip() for k, v in terms.items() if k.strip()}
        self.terms.update(self.grammar.places)
        self.particles = sorted({p for p in [*particles, *self.grammar.relations] if p}, key=len, reverse=True)
        self._max_len = max((len(k) for k in self.terms), default=0)

    @classmethod
    def load(cls, path: Path = GLOSSARY_PATH) -> Glossary:
        data = json.loads(path.read_text(encoding="utf-8"))
        terms: dict[str, str] = {}
        for category in data["categories"].values():
            terms.update(category)
        return cls(terms, data.get("particles", []), Grammar.from_json(data.get("grammar", {})))

    def _term_at(self, text: str, pos: int) -> str | None:
        for length in range(min(self._max_len, len(text) - pos), 0, -1):
            candidate = text[pos : pos + length]
            if candidate in self.terms and not candidate.endswith(" "):
                return candidate
        return None

    def _particle_chain(self, rest: str) -> list[str] | None:
        """The particles/endings `rest` is made of (e.g. "에서의" -> ["에서의"]), or None: at each
        place the longest particle after which the rest still splits. Worked out from the end, one
        place at a time (a word of a thousand "가" is a thousand particles: no recursion, no
        backtracking)."""
        n = len(rest)
        chosen: list[str | None] = [None] * n  # at each place, the particle to take there
        splits = [False] * n + [True]
        for pos in range(n - 1, -1, -1):
            for p in self.particles:
                if pos + len(p) <= n and splits[pos + len(p)] and rest.startswith(p, pos):
                    chosen[pos], splits[pos] = p, True
                    break
        if not splits[0]:
            return None
        chain, pos = [], 0
        while pos < n:
            chain.append(chosen[pos])
            pos += len(chosen[pos])
        return chain

    def _relation(self, chain: list[str]) -> str:
        relations = [self.grammar.relations[p] for p in chain if p in self.grammar.relations]
        return relations[-1] if relations else ""

    def _words(self, clause: str, unknown: list[str]) -> list[_Word]:
        """The clause as words, each with its role and the relation its particles give it."""
        g = self.grammar
        words: list[_Word] = []
        pos, n = 0, len(clause)
        while pos < n:
            if clause[pos].isspace():
                pos += 1
                continue
            end = pos
            if not _HANGUL.match(clause[pos]):  # English words, numbers, "20%": kept as they are
                while end < n and not clause[end].isspace() and not _HANGUL.match(clause[end]):
                    end += 1
                words.append(_Word(clause[pos:end], "literal"))
                pos = end
                continue
            while end < n and _HANGUL.match(clause[end]):
                end += 1
            token = clause[pos:end]
            counting = bool(words) and words[-1].role == "number"
            stem, chain = self._split_known(token, g.counters if counting else g.numbers)
            if stem is not None:
                role = "counter" if counting else "number"
                words.append(_Word(role=role, relation=self._relation(chain), count=g.numbers.get(stem, 0),
                                   unit=g.counters.get(stem, ("", ""))))
                pos = end
                continue
            stem, chain = self._split_known(token, g.together)
            if stem is not None:
                words.append(_Word(role="together"))
                pos = end
                continue
            # A term may start only where the word starts or where the previous term ended
            # (compounds such as 카페라떼), so that e.g. 자동차 is not read as 자동 + 차 "tea".
            glosses: list[str] = []
            last_term = ""
            while pos < end:
                term = self._term_at(clause, pos)
                if term is not None:
                    glosses.append(self.terms[term])
                    last_term = term
                    pos += len(term)
                    end = max(end, pos)  # a phrase term ("나무 테이블") may run past this word
                    while end < n and _HANGUL.match(clause[end]):
                        end += 1
                    continue
                rest = clause[pos:end]
                chain = self._particle_chain(rest)
                if chain is None:
                    unknown.append(rest)
                    chain = []
                pos = end
                break
            else:
                chain = []
            if glosses:
                role = "place" if last_term in g.places else "word"
                words.append(_Word(" ".join(glosses), role, self._relation(chain)))
            elif chain:
                words.append(_Word(relation=self._relation(chain)))  # a bare ending: "위에 놓인" -> 놓인
        return words

    def _split_known(self, token: str, known) -> tuple[str | None, list[str]]:
        """(stem, particles) when `token` is one of `known` followed only by particles."""
        for length in range(len(token), 0, -1):
            if token[:length] in known:
                chain = self._particle_chain(token[length:])
                if chain is not None:
                    return token[:length], chain
        return None, []

    def translate(self, text: str) -> tuple[str, tuple[str, ...]]:
        """(English in English word order, Korean words that were not understood and left out)."""
        unknown: list[str] = []
        clauses = re.split(r"\s*([,.;!?\n]+)\s*", text)
        out: list[str] = []
        for i, piece in enumerate(clauses):
            if i % 2:  # a separator
                out.append(piece.strip()[:1] + " ")
                continue
            reader = _PhraseReader(self.grammar)
            for word in self._words(piece, unknown):
                reader.read(word)
            out.append(reader.english())
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
                return Translation(_tidy(english), source, "marian", ad_copy, confidence=MODEL)
            except Exception as exc:  # a broken model folder must not stop generation
                log.exception("Marian translation failed")
                notes.append(f"Marian translation failed ({type(exc).__name__}: {exc}); used the glossary")
        else:
            notes.append("opus-mt-ko-en is not installed (python -m models download opus-mt-ko-en); used the glossary")
        english, unknown = self.glossary.translate(prompt)
        notices = [Notice("translate.word_by_word", "The prompt was translated with the built-in word list; check the English "
                          "prompt. The translator model would translate it better.")]
        if unknown:
            notes.append("not in the glossary, left out: " + ", ".join(unknown))
            notices.append(Notice("translate.left_out", f"Not in the word list, left out: {', '.join(unknown)}.",
                                  {"words": ", ".join(unknown)}))
        return Translation(english, source, "glossary", ad_copy, unknown, tuple(notes),
                           confidence=LOW if unknown or not english else HIGH, notices=tuple(notices))


def require_words(translation: Translation, field: str) -> Translation:
    """`translation`, unless Korean words went in and no English came out: a prompt is never
    silently emptied (the model would draw something the user never asked for)."""
    if translation.hangul_detected and not translation.text.strip() and translation.backend != "pass-through":
        words = ", ".join(translation.untranslated) or translation.source_text
        raise InputError(f"None of the words of the {field} could be translated to English ({words}). Write the "
                         "English yourself, or choose a model that reads Korean.", key="untranslated",
                         field=field.replace(" ", "_"),
                         name=field, words=words)
    return translation


def translate_prompt(text: str, target_model_spec: ModelSpec | str, translator: Translator | None = None) -> Translation:
    """The agreed entry point. Pass the app's Translator to reuse a loaded Marian model."""
    spec = get_spec(target_model_spec) if isinstance(target_model_spec, str) else target_model_spec
    return (translator or Translator()).translate(text, spec)
