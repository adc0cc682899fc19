"""Plain text for language models: local text files and an offline corpus.

Two sources, both offline:

- `text:PATH`: a UTF-8 text file, or a folder of `.txt` files (sorted by
  name, joined with a blank line);
- `python_docstrings`: the docstrings of Python's own standard library,
  read with `ast` from the installed sources (`sysconfig`'s `stdlib`
  path): real English prose written by people, on every machine that has
  Python, about 0.8 MB from a fixed, sorted list of pure-Python modules
  (`DOCSTRING_MODULES`). The text depends on the Python version (3.11 here),
  never on the machine otherwise.

`split_blocks` cuts a text into train / validation / test by contiguous
blocks, so no split sees the text of another.

Example:
>>> parts = split_blocks("a\\nb\\nc\\nd\\n" * 5, 0.2, 0.2, num_blocks=5)
>>> sorted(parts), sum(map(len, parts.values()))
(['test', 'train', 'validation'], 40)
"""

from __future__ import annotations

import ast
import functools
import os
import sysconfig
from pathlib import Path

import numpy as np

TEXT_PREFIX = "text:"
DOCSTRINGS = "python_docstrings"
TEXT_SOURCES = (f"{TEXT_PREFIX}PATH", DOCSTRINGS)

# Well-documented pure-Python modules present in every CPython 3.9-3.13;
# one missing from an installation is skipped (never tests, idlelib,
# lib2to3 or site-packages).
DOCSTRING_MODULES = (
    "abc", "argparse", "ast", "base64", "bdb", "bisect", "calendar", "cmd",
    "code", "codecs", "collections", "concurrent.futures._base",
    "configparser", "contextlib", "copy", "csv", "dataclasses", "datetime",
    "difflib", "dis", "doctest", "email.message", "email.utils", "enum",
    "filecmp", "fileinput", "fnmatch", "fractions", "ftplib", "functools",
    "getopt", "gettext", "glob", "gzip", "heapq", "hmac", "html.parser",
    "http.client", "http.cookiejar", "http.server", "imaplib", "inspect",
    "io", "ipaddress", "json", "json.decoder", "json.encoder", "locale",
    "logging", "logging.handlers", "mailbox", "mimetypes", "netrc",
    "numbers", "operator", "optparse", "os", "pathlib", "pdb", "pickle",
    "pkgutil", "platform", "plistlib", "poplib", "pprint", "pydoc", "queue",
    "quopri", "random", "re", "reprlib", "sched", "secrets", "selectors",
    "shelve", "shlex", "shutil", "smtplib", "socket", "socketserver", "ssl",
    "statistics", "string", "subprocess", "tarfile", "tempfile", "textwrap",
    "threading", "timeit", "tokenize", "trace", "traceback", "types",
    "typing", "unittest.case", "unittest.mock", "urllib.parse",
    "urllib.request", "uuid", "warnings", "weakref", "xml.dom.minidom",
    "xml.etree.ElementTree", "xmlrpc.client", "zipfile",
)
_SKIPPED_PARTS = {"test", "tests", "idlelib", "lib2to3", "site-packages"}


class TextSourceError(ValueError):
    """A text source cannot be read; the message says why and what to do."""


def is_text_source(name: str) -> bool:
    """Whether a dataset name is a text source of this module.

    Example:
    >>> is_text_source("text:book.txt"), is_text_source("digits")
    (True, False)
    """
    return name == DOCSTRINGS or name.startswith(TEXT_PREFIX)


def read_text_source(name: str) -> str:
    """The text a dataset name stands for.

    Args:
        name: `"text:PATH"` (a UTF-8 file, or a folder of `.txt` files
            joined in name order with a blank line between files) or
            `"python_docstrings"` (the offline corpus).

    Returns:
        The whole text.

    Raises:
        TextSourceError: A missing path, a file that is not UTF-8, a folder
            without `.txt` files, or no text at all.

    Example:
    >>> len(read_text_source("python_docstrings")) > 500_000
    True
    """
    if name == DOCSTRINGS:
        return python_docstrings()
    if not name.startswith(TEXT_PREFIX):
        raise TextSourceError(
            f"Unknown text source {name!r}: use 'text:PATH' (a text file "
            f"or a folder of .txt files) or {DOCSTRINGS!r}.")
    path = Path(name[len(TEXT_PREFIX):]).expanduser()
    if not str(path) or str(path) == ".":
        raise TextSourceError(f"{name!r} names no path: write text:PATH, "
                              "e.g. text:book.txt.")
    if path.is_dir():
        files = sorted(p for p in path.iterdir()
                       if p.suffix == ".txt" and p.is_file())
        if not files:
            raise TextSourceError(
                f"Folder {str(path)!r} holds no .txt files: put the text in "
                "files ending in .txt, or name one file with text:FILE.")
        text = "\n\n".join(_read_utf8(p) for p in files)
    elif path.is_file():
        text = _read_utf8(path)
    else:
        raise TextSourceError(f"Text source {str(path)!r} not found: give "
                              "an existing file or folder of .txt files.")
    if not text.strip():
        raise TextSourceError(f"Text source {str(path)!r} holds no text "
                              "(empty or only whitespace).")
    return text


def _read_utf8(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise TextSourceError(
            f"{path}: not UTF-8 text (byte {err.start}: {err.reason}); "
            "convert it, e.g. iconv -f latin1 -t utf-8.") from None


def _module_file(root: Path, module: str) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _records_of(module: str, tree: ast.Module) -> list[tuple[str, str, str]]:
    out = []
    doc = ast.get_docstring(tree)
    if doc:
        out.append((module, "module", doc))

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                kind = "class"
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                kind = "function"
            else:
                continue
            name = f"{prefix}.{node.name}"
            doc = ast.get_docstring(node)
            if doc:
                out.append((name, kind, doc))
            if kind == "class":
                visit(node.body, name)

    visit(tree.body, module)
    return out


@functools.lru_cache(maxsize=None)
def _cached_records(modules: tuple[str, ...]) -> tuple:
    root = Path(sysconfig.get_paths()["stdlib"])
    records = []
    for module in modules:
        path = _module_file(root, module)
        if path is None or _SKIPPED_PARTS & set(path.relative_to(
                root).parts):
            continue
        tree = ast.parse(path.read_bytes(), filename=str(path))
        records.extend(_records_of(module, tree))
    if not records:
        raise TextSourceError(
            f"No Python standard library sources (.py) under {root}: this "
            f"installation ships compiled files only, so {DOCSTRINGS!r} is "
            "unavailable. Use dataset.name = 'text:PATH' instead.")
    return tuple(records)


def docstring_records(modules: tuple[str, ...] | None = None
                      ) -> list[tuple[str, str, str]]:
    """`(qualified name, kind, docstring)` of the standard library's docs.

    Kinds are `"module"`, `"class"` and `"function"` (methods included);
    the order is that of `modules` (default `DOCSTRING_MODULES`), then of
    the source. Read once per process.

    Example:
    >>> docstring_records(("textwrap",))[0][:2]
    ('textwrap', 'module')
    """
    return list(_cached_records(tuple(modules or DOCSTRING_MODULES)))


def python_docstrings() -> str:
    """The offline corpus: every docstring of `docstring_records()`, in
    order, separated by blank lines.

    Example:
    >>> python_docstrings().startswith("Abstract Base Classes")
    True
    """
    return "\n\n".join(doc for _, _, doc in docstring_records()) + "\n"


def block_bounds(text: str, num_blocks: int) -> list[tuple[int, int]]:
    """`num_blocks` contiguous `(start, end)` spans covering `text`.

    Blocks have about equal length; each boundary moves forward to the
    next line start (when one comes before the next boundary), so blocks
    end at line ends.

    Example:
    >>> block_bounds("ab\\ncd\\nef", 2)
    [(0, 6), (6, 8)]
    """
    if num_blocks < 1:
        raise ValueError(f"num_blocks must be >= 1. Received {num_blocks}.")
    n = len(text)
    nominal = [round(i * n / num_blocks) for i in range(num_blocks + 1)]
    cuts = [0]
    for i in range(1, num_blocks):
        newline = text.find("\n", max(nominal[i] - 1, 0), nominal[i + 1])
        cut = newline + 1 if newline >= 0 else nominal[i]
        cuts.append(max(cut, cuts[-1]))
    cuts.append(n)
    return list(zip(cuts[:-1], cuts[1:]))


def assign_blocks(num_blocks: int, validation_fraction: float,
                  test_fraction: float, seed: int = 0
                  ) -> dict[str, list[int]]:
    """Block indices of each split, chosen by `seed`, each list sorted.

    A non-zero fraction gets at least one block; training keeps the rest
    and must keep one.

    Example:
    >>> assign_blocks(10, 0.1, 0.2, seed=0)["test"]
    [2, 6]
    """
    for what, value in (("validation", validation_fraction),
                        ("test", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"dataset.{what}_fraction must be in [0, 1). "
                             f"Received {value}.")
    counts = [max(1, round(num_blocks * f)) if f > 0 else 0
              for f in (validation_fraction, test_fraction)]
    if sum(counts) >= num_blocks:
        raise ValueError(
            f"validation_fraction {validation_fraction} and test_fraction "
            f"{test_fraction} leave none of {num_blocks} blocks for "
            "training: lower them.")
    order = np.random.default_rng(seed).permutation(num_blocks).tolist()
    validation = sorted(order[:counts[0]])
    test = sorted(order[counts[0]:sum(counts)])
    train = sorted(order[sum(counts):])
    return {"train": train, "validation": validation, "test": test}


def split_blocks(text: str, validation_fraction: float,
                 test_fraction: float, num_blocks: int = 20,
                 seed: int = 0) -> dict[str, str]:
    """Train / validation / test texts made of whole contiguous blocks.

    The text is cut into `num_blocks` blocks of about equal length, at line
    ends where possible (`block_bounds`); `seed` picks which blocks go to
    validation and test (`assign_blocks`), and each split is its blocks
    joined in text order. Every character lands in exactly one split, and
    no split holds text of another (no leakage between neighbouring
    windows, as a random split of overlapping windows would have).

    Args:
        text: The whole corpus.
        validation_fraction: Share of blocks for validation (0: none).
        test_fraction: Share of blocks for test (0: none).
        num_blocks: Number of blocks.
        seed: Seed of the block choice.

    Returns:
        `{"train": str, "validation": str, "test": str}`.

    Example:
    >>> parts = split_blocks("".join(f"{i}\\n" for i in range(10)), 0.2,
    ...                      0.2, num_blocks=5, seed=1)
    >>> parts["validation"], parts["test"]
    ('8\\n9\\n', '0\\n1\\n')
    """
    bounds = block_bounds(text, num_blocks)
    chosen = assign_blocks(num_blocks, validation_fraction, test_fraction,
                           seed)
    return {split: "".join(text[slice(*bounds[i])] for i in indices)
            for split, indices in chosen.items()}


def resolve_text_source(name: str) -> str:
    """A `text:PATH` name with its path made absolute (others unchanged).

    Example:
    >>> resolve_text_source("python_docstrings")
    'python_docstrings'
    """
    if name.startswith(TEXT_PREFIX):
        return TEXT_PREFIX + os.path.abspath(
            os.path.expanduser(name[len(TEXT_PREFIX):]))
    return name
