"""Multimodal models: CLIP and Whisper on keras-hub, and kerakit's ViLBERT."""
