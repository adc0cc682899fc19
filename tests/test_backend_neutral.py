"""Model, layer and loss code imports only keras (STYLE.md rule 2)."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1] / "kerakit"
FORBIDDEN = re.compile(r"^(\s*)(import|from)\s+(tensorflow|torch|jax|keras\.src)\b")
# The GAN's adversarial step needs each backend's gradient API (keras has no
# backend-neutral one); those imports sit inside the per-backend methods.
LAZY_BACKEND_STEP = {"models/generative/gan.py"}


def test_model_code_imports_only_keras():
    offences = []
    for folder in ("models", "layers", "losses"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for number, line in enumerate(path.read_text().splitlines(), 1):
                match = FORBIDDEN.match(line)
                if not match:
                    continue
                lazy = bool(match.group(1)) and match.group(3) != "keras.src"
                if lazy and rel in LAZY_BACKEND_STEP:
                    continue
                offences.append(f"{rel}:{number}: {line.strip()}")
    assert not offences, "\n".join(offences)
