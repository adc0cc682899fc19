"""A chief or worker process of a distributed search.

`kerakit.tuning.distributed.run_distributed` starts `python -m kerakit.tuning
DIR` once per process, with `KERASTUNER_TUNER_ID` and the oracle address in
the environment; `DIR/space.json` (written by `kerakit.tune`) describes the
search. The launching process has already checked every value of the space,
so the processes do not check it again.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(directory: str) -> int:
    """Run this process's part of the search in `directory`.

    Example:
        KERASTUNER_TUNER_ID=tuner0 KERASTUNER_ORACLE_IP=127.0.0.1 \\
        KERASTUNER_ORACLE_PORT=8470 python -m kerakit.tuning runs/tune/x
    """
    from kerakit.tuning import distributed
    from kerakit.tuning import report
    from kerakit.tuning import search

    distributed.exit_with_parent()
    space, tuner, max_trials = report.read_space_record(Path(directory))
    tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "tuner0")
    verbose = not tuner_id.startswith("chief")
    search.run_search(space, tuner, directory, max_trials, verbose=verbose,
                      check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
