"""What the transformer families share: sizes, knobs and local presets.

kerakit's transformers are keras-hub backbones and task models. This module
builds a backbone either from sizes or from a keras-hub preset folder that
the user has on disk (never by preset name: nothing is downloaded), checks
the sizes up front, and makes the named size variants (`bert_tiny`,
`gpt2_small`, ...) whose sizes stay arguments. keras-hub is imported on first
use, so `import kerakit` stays as fast as before.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

import keras

from kerakit.registry import Knob
from kerakit.registry import register

# Architecture arguments: kerakit name -> (keras-hub config key, value).
Arch = Mapping[str, tuple[str, Any]]

TEXT_KNOBS = (
    Knob("depth", "num_layers", min_value=1, max_value=12, step=1),
    Knob("width", "hidden_dim", values=(64, 128, 256, 512, 768)),
    Knob("heads", "num_heads", values=(2, 4, 8)),
    Knob("ffn", "intermediate_dim", values=(256, 512, 1024, 2048, 3072)),
    Knob("dropout", "dropout", min_value=0.0, max_value=0.3, step=0.05),
)


def keras_hub() -> Any:
    """Import keras-hub on first use (it adds ~2 s to `import kerakit`).

    Example:
    >>> keras_hub().models.GPT2Backbone.__name__
    'GPT2Backbone'
    """
    import keras_hub as hub

    return hub


def check_sizes(model: str, arch: Arch, dropout: float,
                heads: tuple[str, str] | None = ("hidden_dim",
                                                 "num_heads")) -> None:
    """Refuse sizes below 1, a dropout outside [0, 1) and uneven heads.

    Args:
        model: Model name for the messages.
        arch: Architecture arguments (kerakit name -> (key, value)); every
            integer value must be >= 1.
        dropout: Dropout rate.
        heads: `(width argument, heads argument)` whose ratio must be whole,
            or `None`.

    Example:
    >>> check_sizes("gpt", {"num_layers": ("num_layers", 2)}, 0.1)
    >>> check_sizes("gpt", {"num_layers": ("num_layers", 0)}, 0.1)
    Traceback (most recent call last):
    ...
    ValueError: gpt: num_layers must be a positive integer. Received: \
num_layers=0
    """
    for arg, (_, value) in arch.items():
        if isinstance(value, bool) or (isinstance(value, int) and value < 1):
            raise ValueError(
                f"{model}: {arg} must be a positive integer. "
                f"Received: {arg}={value!r}"
            )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(
            f"{model}: dropout must be in [0, 1). Received: dropout={dropout!r}"
        )
    if heads is None or not set(heads) <= set(arch):
        return
    width, count = (arch[heads[0]][1], arch[heads[1]][1])
    if isinstance(width, int) and isinstance(count, int) and width % count:
        raise ValueError(
            f"{model}: {heads[0]} must be a multiple of {heads[1]} (each "
            f"head gets {heads[0]} / {heads[1]} dimensions). Received: "
            f"{heads[0]}={width}, {heads[1]}={count}."
        )


def check_preset_dir(preset: Any, model: str) -> str:
    """Return `preset` if it is a local keras-hub preset folder, else raise.

    Example:
    >>> check_preset_dir("bert_base_en", "bert")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: bert: preset='bert_base_en' is not a local folder. ...
    """
    path = os.fspath(preset) if isinstance(preset, os.PathLike) else preset
    if not isinstance(path, str) or not os.path.isdir(path):
        raise ValueError(
            f"{model}: preset={preset!r} is not a local folder. kerakit "
            "never downloads presets: pass the path of a keras-hub preset "
            "folder on disk (one written by `save_to_preset(DIR)`, with "
            "config.json and model.weights.h5)."
        )
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise ValueError(
            f"{model}: preset folder {path!r} has no config.json, so it is "
            "not a keras-hub preset. Pass a folder written by "
            "`backbone.save_to_preset(DIR)`."
        )
    return path


def read_config(preset: Any, model: str = "preset") -> dict[str, Any]:
    """Return the `config.json` of a local preset folder.

    Example:
    >>> read_config("no/such/folder")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: preset: preset='no/such/folder' is not a local folder. ...
    """
    path = check_preset_dir(preset, model)
    with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
        return json.load(f)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(map(_same, a, b))
    return a == b


def build_backbone(
    cls_name: str, arch: Arch, *, preset: Any, model: str,
    **options: Any,
) -> keras.Model:
    """Build the keras-hub backbone `cls_name` from sizes or a local preset.

    Without a preset every architecture value must be given. With one, the
    sizes come from the preset's config; a size also given must agree with
    it. `options` (dropout, dtype, name) override the preset's config.

    Args:
        cls_name: keras-hub backbone class, e.g. `"GPT2Backbone"`.
        arch: kerakit argument -> (keras-hub key, value or `None`).
        preset: Path of a local preset folder, or `None`.
        model: Model name for the messages.
        **options: Further constructor arguments.

    Returns:
        The backbone (with the preset's weights when loaded from one).

    Example:
    >>> b = build_backbone("GPT2Backbone", {
    ...     "vocabulary_size": ("vocabulary_size", 10),
    ...     "sequence_length": ("max_sequence_length", 4),
    ...     "num_layers": ("num_layers", 1), "hidden_dim": ("hidden_dim", 4),
    ...     "num_heads": ("num_heads", 1),
    ...     "intermediate_dim": ("intermediate_dim", 4)},
    ...     preset=None, model="gpt")
    >>> b.count_params()  # embeddings 40 + 16, block 136, final norm 8
    200
    """
    cls = getattr(keras_hub().models, cls_name)
    if preset is None:
        missing = [arg for arg, (_, value) in arch.items() if value is None]
        if missing:
            raise ValueError(
                f"{model}: {', '.join(missing)} must be given when no "
                "preset is loaded."
            )
        return cls(**{key: value for key, value in arch.values()}, **options)
    path = check_preset_dir(preset, model)
    config = read_config(path)
    if "registered_name" not in config:
        # Another format (e.g. Hugging Face's): keras-hub converts it.
        return cls.from_preset(path, **options)
    found = config.get("class_name")
    if found != cls_name:
        raise ValueError(
            f"{model}: preset {path!r} holds a {found}, not a {cls_name}. "
            f"Pass a {cls_name} preset or use the model that matches it."
        )
    saved = config.get("config", {})
    for arg, (key, value) in arch.items():
        if value is not None and not _same(value, saved.get(key)):
            raise ValueError(
                f"{model}: the preset fixes {arg}={saved.get(key)!r} "
                f"(config key {key!r}); received {arg}={value!r}. Leave "
                f"{arg} out when loading a preset."
            )
    return cls.from_preset(path, **options)


def load_preset_tokenizer(preset: Any) -> Any:
    """Load the tokenizer saved in a local keras-hub preset folder.

    For the text tasks: the tokenizer that goes with a pretrained BERT,
    GPT-2 or T5 preset (`tokenizer.save_to_preset(DIR)` writes it).

    Args:
        preset: Path of a local preset folder.

    Returns:
        A `keras_hub.tokenizers.Tokenizer`.

    Example:
    >>> load_preset_tokenizer("gpt2_base_en")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: load_preset_tokenizer: preset='gpt2_base_en' is not a ...
    """
    path = check_preset_dir(preset, "load_preset_tokenizer")
    if not os.path.isfile(os.path.join(path, "tokenizer.json")):
        raise ValueError(
            f"load_preset_tokenizer: preset folder {path!r} has no "
            "tokenizer.json. Save one with `tokenizer.save_to_preset(DIR)` "
            "or use a tokenizer learned by kerakit.data.text."
        )
    return keras_hub().tokenizers.Tokenizer.from_preset(path)


def sized_variant(base: Callable[..., keras.Model], name: str, doc: str,
                  **sizes: Any) -> Callable[..., keras.Model]:
    """Make a named size variant of a transformer builder.

    Unlike `kerakit.registry.variant`, the sizes stay arguments (only their
    defaults change), as with keras-hub presets: `bert_tiny(num_layers=4)`
    is allowed. With `preset=DIR` the defaults are dropped, so the sizes come
    from the preset and only sizes passed explicitly are checked against it.

    Args:
        base: Generic builder whose size arguments default to `None`.
        name: The variant's name and default model name.
        doc: The variant's docstring.
        **sizes: The variant's default sizes.

    Returns:
        The variant factory (not yet registered).

    Example:
    >>> from kerakit.models.transformer.gpt import gpt_model
    >>> tiny = sized_variant(gpt_model, "tiny", "Tiny.", vocabulary_size=9,
    ...     sequence_length=4, num_layers=1, hidden_dim=4, num_heads=1,
    ...     intermediate_dim=4)
    >>> tiny(num_layers=2).name
    'tiny'
    """
    signature = inspect.signature(base)
    params = [
        p.replace(default=sizes.get(p.name, name if p.name == "name"
                                    else p.default))
        for p in signature.parameters.values()
    ]
    unknown = sorted(set(sizes) - set(signature.parameters))
    if unknown:
        raise TypeError(f"{name}: {base.__name__} has no argument {unknown}")

    def factory(*args: Any, **kwargs: Any) -> keras.Model:
        given = factory.__signature__.bind(*args, **kwargs).arguments
        defaults = {} if given.get("preset") is not None else sizes
        return base(**{"name": name, **defaults, **given})

    factory.__signature__ = signature.replace(parameters=params)
    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = doc
    factory.__module__ = base.__module__
    factory.base = base
    return factory


def register_sized(base: Callable[..., keras.Model], name: str, doc: str,
                   sizes: Mapping[str, Any], *, params: int | None,
                   canonical: Mapping[str, Any] | None = None,
                   **entry: Any) -> Callable[..., keras.Model]:
    """Make a `sized_variant` and register it (canonical: its sizes).

    Args:
        base: Generic builder.
        name: Registered name.
        doc: Docstring of the variant.
        sizes: Default sizes, also the canonical settings.
        params: `count_params()` at the canonical settings, if pinned.
        canonical: Canonical settings besides the sizes.
        **entry: Further `kerakit.registry.register` arguments (family,
            task, tiny, reference, knobs, test).

    Returns:
        The registered variant.
    """
    fn = sized_variant(base, name, doc, **sizes)
    return register(canonical={**sizes, **(canonical or {})}, params=params,
                    **entry)(fn)
