"""MarianMT Korean→English (Helsinki-NLP/opus-mt-ko-en), loaded from this machine only.

Found through `models.locate` like every other model: env `INTACT_MODEL_OPUS_MT_KO_EN`, the
Intact models folder, then the Hugging Face cache. Never downloads. One object owns the loaded
model (no module-level cache: the app's ModelManager holds the instance).
"""

from __future__ import annotations

import threading

from models.locate import Location, ModelNotAvailableError, locate

MODEL_NAME = "opus-mt-ko-en"


class MarianTranslator:
    """Lazy-loading wrapper around MarianMTModel + MarianTokenizer. Thread-safe."""

    def __init__(self, location: Location | None = None, num_beams: int = 4, max_new_tokens: int = 200):
        self.location = location
        self.num_beams = num_beams
        self.max_new_tokens = max_new_tokens
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def available(self) -> bool:
        return (self.location or locate(MODEL_NAME)).available

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _load(self):
        from transformers import MarianMTModel, MarianTokenizer

        location = self.location or locate(MODEL_NAME)
        if not location.available:
            raise ModelNotAvailableError(location)
        tokenizer = MarianTokenizer.from_pretrained(location.path, local_files_only=True)
        model = MarianMTModel.from_pretrained(location.path, local_files_only=True)
        model.eval()
        self.location = location
        self._tokenizer, self._model = tokenizer, model

    def translate(self, texts: list[str]) -> list[str]:
        import torch

        if not texts:
            return []
        with self._lock:
            if self._model is None:
                self._load()
            batch = self._tokenizer(texts, return_tensors="pt", padding=True, truncation=True)
            with torch.inference_mode():
                out = self._model.generate(
                    **batch, num_beams=self.num_beams, max_new_tokens=self.max_new_tokens, do_sample=False
                )
            return [t.strip() for t in self._tokenizer.batch_decode(out, skip_special_tokens=True)]

    def unload(self) -> None:
        with self._lock:
            self._model = None
            self._tokenizer = None
