"""Planetoid citation graphs (Cora, CiteSeer, PubMed) from their files.

The files of the Planetoid release (Yang et al., 2016), as the GCN and GAT
papers read them: `ind.NAME.x`, `.tx`, `.allx` (sparse feature rows),
`.y`, `.ty`, `.ally` (one-hot labels), `.graph` (a dict of adjacency
lists) and `.test.index` (the test node ids, one per line). The first
seven are Python pickles written under Python 2, so they are read with
:class:`RestrictedUnpickler`, which builds only the numpy arrays,
scipy.sparse matrices and builtin containers such files hold and refuses
anything else: a crafted file cannot run code.

Get the files from the Planetoid repository (its `data/` folder, e.g.
`ind.cora.x`) and put them in a folder; `planetoid:PATH` finds them when
PATH is that folder (`data/planetoid/cora/`, or PyTorch Geometric's
`Cora/raw/` under it), or PATH is `FOLDER/NAME` with the files directly in
FOLDER (`planetoid:data/planetoid/cora` reads `data/planetoid/ind.cora.*`).

The split is the standard public one: the `len(y)` nodes of `y` train (20
per class), the next 500 validate, the 1,000 of `test.index` test. Test
rows `tx` belong to the nodes of `test.index` in file order; CiteSeer's
test ids have gaps (isolated nodes missing from the files), which get zero
features and are in no split (Kipf & Welling's fix). Labels are the argmax
of the one-hot rows, as the reference code takes them.

Example:
>>> import io, pickle
>>> RestrictedUnpickler(io.BytesIO(pickle.dumps([1, {2: 3}])), "f").load()
[1, {2: 3}]
"""

from __future__ import annotations

import _compat_pickle
import importlib
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from kerakit.data.graph_types import Graph
from kerakit.data.graph_types import NodeData
from kerakit.data.graph_types import missing_files
from kerakit.data.splits import DataError

PARTS = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")
WHERE = ("Get the files from the Planetoid repository's data/ folder "
         "(https://github.com/kimiyoung/planetoid, e.g. ind.cora.x) and put "
         "them there (or in its parent folder), or point dataset.name at "
         "yours (planetoid:/path/to/cora).")

_SPARSE = ("csr_matrix", "csc_matrix", "coo_matrix", "lil_matrix")
# (module, name) a Planetoid pickle may name -> where it lives now.
_ALLOWED: dict[tuple[str, str], tuple[str, str]] = {
    ("builtins", name): ("builtins", name) for name in (
        "list", "dict", "set", "frozenset", "tuple", "object", "int",
        "float", "complex", "bool", "str", "bytes", "bytearray")}
_ALLOWED.update({
    ("copyreg", "_reconstructor"): ("copyreg", "_reconstructor"),
    ("_codecs", "encode"): ("_codecs", "encode"),
    ("collections", "defaultdict"): ("collections", "defaultdict"),
    ("collections", "OrderedDict"): ("collections", "OrderedDict"),
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
})
for _core in ("numpy.core.multiarray", "numpy._core.multiarray"):
    for _name in ("_reconstruct", "scalar"):
        _ALLOWED[(_core, _name)] = ("numpy._core.multiarray", _name)
for _name in _SPARSE:
    _short = _name[:3]
    for _module in ("scipy.sparse", f"scipy.sparse.{_short}",
                    f"scipy.sparse._{_short}"):
        _ALLOWED[(_module, _name)] = ("scipy.sparse", _name)


class UnsafePickleError(DataError):
    """A pickle names something a Planetoid file never holds."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds only numpy, scipy.sparse and containers.

    Every class or function a pickle names goes through `find_class`,
    which looks it up in an allow-list: numpy arrays and dtypes, the
    scipy.sparse matrix classes (under their old `scipy.sparse.csr` and new
    `scipy.sparse._csr` paths), `collections.defaultdict`, builtin
    containers and the two helpers Python-2 pickles use
    (`copy_reg._reconstructor`, `_codecs.encode`). Anything else
    (`os.system`, `builtins.eval`, ...) raises :class:`UnsafePickleError`
    before it is even imported. Strings of Python-2 pickles are decoded as
    latin-1 (bytes of numpy arrays stay intact).

    Args:
        file: A binary file object.
        path: The file's name, for messages.
    """

    def __init__(self, file: Any, path: str):
        """Read `file` (named `path`), decoding Python-2 strings."""
        super().__init__(file, encoding="latin1")
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        """Return an allowed class; refuse everything else."""
        module, name = _compat_pickle.NAME_MAPPING.get(
            (module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        target = _ALLOWED.get((module, name))
        if target is None:
            raise UnsafePickleError(
                f"{self.path}: refused to unpickle {module}.{name}: a "
                "Planetoid file holds only numpy arrays, scipy.sparse "
                "matrices and lists/dicts, so this file is not one (it may "
                f"have been crafted to run code). {WHERE}")
        return getattr(importlib.import_module(target[0]), target[1])


def read_pickle(path: str | os.PathLike) -> Any:
    """Unpickle a Planetoid file with :class:`RestrictedUnpickler`."""
    with open(path, "rb") as f:
        try:
            return RestrictedUnpickler(f, str(path)).load()
        except UnsafePickleError:
            raise
        except Exception as err:  # a damaged file: any error may surface
            raise DataError(f"{path}: cannot read this Planetoid file "
                            f"({type(err).__name__}: {err}). {WHERE}"
                            ) from None


def _dense(value: Any, path: Path) -> np.ndarray:
    if hasattr(value, "toarray"):
        try:
            value = value.toarray()
        except (AttributeError, TypeError):  # an old matrix: rebuild it
            import scipy.sparse

            state = vars(value)
            value = scipy.sparse.csr_matrix(
                (state["data"], state["indices"], state["indptr"]),
                shape=state.get("_shape", state.get("shape"))).toarray()
    value = np.asarray(value)
    if value.ndim != 2 or value.dtype.kind not in "fiub":
        raise DataError(f"{path}: expected a 2-D array of numbers, got "
                        f"shape {value.shape}, dtype {value.dtype}.")
    return value


def find_planetoid(path: str) -> tuple[Path, str]:
    """The folder holding `ind.NAME.*` and NAME, for `planetoid:PATH`."""
    root = Path(path).expanduser()
    for folder in (root, root / "raw"):
        names = sorted(p.name[4:-2] for p in folder.glob("ind.*.x"))
        if folder.is_dir() and names:
            name = root.name.lower() if root.name.lower() in names else (
                names[0] if len(names) == 1 else "")
            if not name:
                raise DataError(
                    f"{folder} holds the Planetoid datasets {names}: name "
                    f"one, e.g. planetoid:{folder / names[0]}.")
            return folder, name
    name = root.name.lower()
    if (root.parent / f"ind.{name}.x").is_file():
        return root.parent, name
    missing_files("Planetoid", path, [f"ind.{name}.{p}" for p in PARTS],
                  WHERE)
    raise AssertionError  # unreachable: missing_files raises


def load_planetoid(path: str) -> NodeData:
    """Read a Planetoid dataset with its public split (see module doc)."""
    folder, name = find_planetoid(path)
    files = {part: folder / f"ind.{name}.{part}" for part in PARTS}
    absent = [f.name for f in files.values() if not f.is_file()]
    if absent:
        missing_files("Planetoid", str(folder), absent, WHERE)
    arrays = {part: _dense(read_pickle(files[part]), files[part])
              for part in ("x", "y", "tx", "ty", "allx", "ally")}
    adjacency = read_pickle(files["graph"])
    if not isinstance(adjacency, dict):
        raise DataError(f"{files['graph']}: expected a dict of adjacency "
                        f"lists, got {type(adjacency).__name__}.")
    try:
        test = np.loadtxt(files["test.index"], dtype="int64", ndmin=1)
    except ValueError as err:
        raise DataError(f"{files['test.index']}: expected one node id per "
                        f"line ({err}).") from None
    allx, ally, tx, ty = (arrays[k] for k in ("allx", "ally", "tx", "ty"))
    n_train = len(arrays["y"])
    if len(tx) != len(test) or len(ty) != len(test) or len(allx) != len(
            ally) or not len(test) or test.min() < len(allx):
        raise DataError(
            f"{folder}: ind.{name}.tx/.ty have {len(tx)}/{len(ty)} rows for "
            f"{len(test)} test ids, .allx/.ally {len(allx)}/{len(ally)} rows"
            "; the test ids must follow the allx nodes. The files do not "
            "belong together.")
    num_nodes = int(max(len(allx), test.max() + 1))
    features = np.zeros((num_nodes, allx.shape[1]), "float32")
    features[:len(allx)] = allx
    features[test] = tx
    labels = np.zeros(num_nodes, "int64")
    labels[:len(ally)] = ally.argmax(axis=1)
    labels[test] = ty.argmax(axis=1)
    pairs = [(int(s), int(t)) for s, targets in adjacency.items()
             for t in targets]
    edges = np.asarray(pairs, "int64").reshape(-1, 2)
    edges = np.concatenate([edges, edges[:, ::-1]])
    masks = {split: np.zeros(num_nodes, bool) for split in (
        "train", "validation", "test")}
    masks["train"][:n_train] = True
    masks["validation"][n_train:n_train + 500] = True
    masks["test"][test] = True
    num_classes = ally.shape[1]
    return NodeData(f"planetoid:{path}", Graph(edges, num_nodes, features),
                    labels, masks, num_classes,
                    [str(c) for c in range(num_classes)])
