"""Model backends: registry, locating and loading weights, memory management, tiny test models."""

from models.locate import ModelNotAvailableError, locate
from models.registry import MODELS, ModelSpec, get_spec

__all__ = ["MODELS", "ModelSpec", "get_spec", "locate", "ModelNotAvailableError"]
