"""Multimodal models: CLIP and Whisper on keras-hub, and kerakit's ViLBERT."""
from kerakit.models.multimodal import clip  # noqa: F401
from kerakit.models.multimodal import whisper  # noqa: F401
from kerakit.models.multimodal import vilbert  # noqa: F401
