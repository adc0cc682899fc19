"""Transformers on keras-hub: BERT, GPT, ViT, Swin and T5.

Every model is a keras-hub backbone (or task model) built without a
preprocessor; `preset=DIR` loads a keras-hub preset folder from disk.
"""

from kerakit.models.transformer import bert  # noqa: F401
from kerakit.models.transformer import gpt  # noqa: F401
from kerakit.models.transformer import swin  # noqa: F401
from kerakit.models.transformer import t5  # noqa: F401
from kerakit.models.transformer import vit  # noqa: F401
from kerakit.models.transformer.presets import load_preset_tokenizer

__all__ = ["load_preset_tokenizer"]
