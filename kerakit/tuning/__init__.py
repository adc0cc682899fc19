"""Hyper-parameter search of recipes with KerasTuner.

- `space`: search-space files (`tuning/*.toml`) and automatic spaces;
- `search`: the KerasTuner hypermodel, tuners and `tune`;
- `report`: results table, best hyper-parameters, plots, the space record;
- `distributed`: chief and worker processes (KerasTuner's distributed mode).

Example:
    result = kerakit.tune("lenet_digits", max_trials=3)
"""

from kerakit.tuning.search import TuneResult
from kerakit.tuning.search import check_tuner
from kerakit.tuning.search import load_space
from kerakit.tuning.search import make_tuner
from kerakit.tuning.search import run_search
from kerakit.tuning.search import tune
from kerakit.tuning.space import HyperParam
from kerakit.tuning.space import SearchSpace
from kerakit.tuning.space import find_space_file
from kerakit.tuning.space import list_spaces

__all__ = [
    "HyperParam",
    "SearchSpace",
    "TuneResult",
    "check_tuner",
    "find_space_file",
    "list_spaces",
    "load_space",
    "make_tuner",
    "run_search",
    "tune",
]
