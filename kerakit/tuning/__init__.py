"""Hyper-parameter search of recipes with KerasTuner.

- `space`: search-space files (`tuning/*.toml`) and automatic spaces;
- `hypermodel`: the KerasTuner hypermodel and the check of every value;
- `tuners`: the tuners (the recipe is every tuner's first trial);
- `search`: loading a space, running a search, `tune`;
- `report`: results table, best hyper-parameters, plots, the space record;
- `distributed`: chief and worker processes (KerasTuner's distributed mode);
  each runs `python -m kerakit.tuning DIR` (`__main__`).

Example:
    result = kerakit.tune("lenet_digits", max_trials=3)
"""

from kerakit.tuning.hypermodel import RecipeHyperModel
from kerakit.tuning.hypermodel import check_values
from kerakit.tuning.report import write_space_record
from kerakit.tuning.search import TuneResult
from kerakit.tuning.search import check_directory
from kerakit.tuning.search import load_space
from kerakit.tuning.search import run_search
from kerakit.tuning.search import tune
from kerakit.tuning.tuners import PROJECT
from kerakit.tuning.tuners import check_tuner
from kerakit.tuning.tuners import make_tuner
from kerakit.tuning.space import HyperParam
from kerakit.tuning.space import SearchSpace
from kerakit.tuning.space import find_space_file
from kerakit.tuning.space import list_spaces

__all__ = [
    "PROJECT",
    "HyperParam",
    "RecipeHyperModel",
    "SearchSpace",
    "TuneResult",
    "check_directory",
    "check_tuner",
    "check_values",
    "find_space_file",
    "list_spaces",
    "load_space",
    "make_tuner",
    "run_search",
    "tune",
    "write_space_record",
]
