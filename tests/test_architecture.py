"""The package's layers and import rules (import-linter, pyproject.toml).

`lint-imports` reads every import statement of `kerakit/`, lazy imports
inside functions included, and checks the contracts under
`[tool.importlinter]`: the layers (cli > tuning, export > workflow > tasks >
building blocks), no import of the `kerakit` facade from below, the command
line imported only by `kerakit.__main__`, and no cycles between subpackages.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The `lint-imports` console script, run by this interpreter.
LINT = ("import sys; from importlinter.cli import lint_imports_command; "
        "sys.exit(lint_imports_command())")
CONTRACTS = [
    "cli > tuning, export > workflow > tasks > building blocks",
    "building blocks, tasks and workflow never import the kerakit facade",
    "only kerakit.__main__ imports the command line",
    "no import cycles between the subpackages of kerakit",
]


def _lint(root: Path) -> subprocess.CompletedProcess:
    # Run from `root`, so that grimp reads the `kerakit` package there (the
    # current directory comes first on the import path).
    return subprocess.run(
        [sys.executable, "-c", LINT, "--config",
         str(root / "pyproject.toml"), "--no-cache", "--no-logo"],
        cwd=root, capture_output=True, text=True, timeout=300)


def _outcomes(output: str) -> dict[str, str]:
    """Contract name -> KEPT or BROKEN, from lint-imports' summary."""
    found = re.findall(r"^(.+?) (KEPT|BROKEN)\b", output, re.MULTILINE)
    return dict(found)


def test_every_import_contract_is_kept():
    result = _lint(ROOT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert _outcomes(output) == dict.fromkeys(CONTRACTS, "KEPT"), output


def _copy_package(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "kerakit", tmp_path / "kerakit",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_a_layer_importing_the_workflow_breaks_the_contract(tmp_path):
    # A lazy import inside a function, in a copy of the package.
    root = _copy_package(tmp_path)
    module = root / "kerakit" / "layers" / "drop_path.py"
    module.write_text(module.read_text() + (
        "\n\ndef _bad():\n    from kerakit.workflow import training\n\n"
        "    return training\n"))
    result = _lint(root)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert _outcomes(output)[CONTRACTS[0]] == "BROKEN", output
    assert ("kerakit.layers.drop_path -> kerakit.workflow.training"
            in output), output


def test_an_import_cycle_and_a_cli_import_break_their_contracts(tmp_path):
    root = _copy_package(tmp_path)
    registry = root / "kerakit" / "registry.py"
    registry.write_text(registry.read_text() + (
        "\n\ndef _bad():\n    from kerakit.models import mlp\n"
        "    from kerakit.cli import common\n\n    return mlp, common\n"))
    result = _lint(root)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    outcomes = _outcomes(output)
    assert outcomes[CONTRACTS[2]] == "BROKEN", output  # cli imported
    assert outcomes[CONTRACTS[3]] == "BROKEN", output  # registry <-> models
