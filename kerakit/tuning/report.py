"""Files of a tuning directory: results table, best values, plot, record.

Reads the trials KerasTuner saved under `<dir>/search/trial_*/trial.json`
(the same files in local and distributed searches) and writes
`results.csv`, `best_hyperparameters.json` and
`objective_vs_hyperparameters.png` next to them. `space.json` records the
search (space and tuner) so that a resumed or distributed run rebuilds it.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

RESULTS = "results.csv"
BEST = "best_hyperparameters.json"
PLOT = "objective_vs_hyperparameters.png"


def trial_line(space: Any, trial: Any, seconds: float,
               max_trials: int | None = None) -> str:
    """One progress line for a finished trial (a failed one: its error)."""
    values = {p.name: p.decode(trial.hyperparameters.values.get(p.name))
              for p in space.params}
    shown = ", ".join(f"{k}={_short(v)}" for k, v in values.items())
    total = f"/{max_trials}" if max_trials else ""
    score = "-" if trial.score is None else f"{trial.score:.4f}"
    epochs = trial.hyperparameters.values.get("tuner/epochs")
    extra = f", {epochs} epochs" if epochs else ""
    line = (f"trial {int(trial.trial_id) + 1}{total} {trial.status.lower()}: "
            f"{shown} -> {space.objective}={score} ({seconds:.1f} s{extra})")
    if trial.status != "COMPLETED" and getattr(trial, "message", None):
        line += f": {last_error(trial.message)}"
    return line


def last_error(message: str) -> str:
    r"""The last line of a traceback: the exception and its message.

    Example:
    >>> last_error("Traceback (most recent call last):\n  File ...\n"
    ...            "ValueError: dropout must be in [0, 1)\n")
    'ValueError: dropout must be in [0, 1)'
    """
    lines = [line.strip() for line in str(message).splitlines()
             if line.strip()]
    return lines[-1] if lines else "an unknown error"


def no_trial_message(project_dir: str | Path) -> str:
    """One line for a search in which no trial finished: the first error.

    Example:
    >>> no_trial_message("/nowhere")
    'No trial finished (no trial ran); see /nowhere.'
    """
    errors = []
    for path in sorted(Path(project_dir).glob("trial_*/trial.json")):
        state = json.loads(path.read_text())
        if state.get("message"):
            errors.append((state["trial_id"], last_error(state["message"])))
    if not errors:
        return f"No trial finished (no trial ran); see {project_dir}."
    trial, error = errors[0]
    return (f"No trial finished: {len(errors)} failed, trial "
            f"{int(trial) + 1} with "
            f"{error} (tracebacks: {project_dir}/trial_*/trial.json).")


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def collect(space: Any, project_dir: str | Path) -> list[dict[str, Any]]:
    """One row per trial: `trial`, `status`, each hyper-parameter, score.

    Hyper-parameter values are decoded back to recipe values (lists of
    widths come back as tuples); Hyperband trials also get `epochs`, the
    epochs trained in that trial (it may continue an earlier trial).
    """
    rows = []
    for path in sorted(Path(project_dir).glob("trial_*/trial.json")):
        state = json.loads(path.read_text())
        values = state["hyperparameters"]["values"]
        row = {"trial": state["trial_id"], "status": state["status"]}
        for param in space.params:
            row[param.name] = param.decode(values.get(param.name))
        if "tuner/epochs" in values:  # Hyperband: epochs trained here
            row["epochs"] = (values["tuner/epochs"]
                             - values.get("tuner/initial_epoch", 0))
        row[space.objective] = state.get("score")
        rows.append(row)
    return rows


def best_row(space: Any, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The completed trial with the best objective (None if none)."""
    done = [r for r in rows if r["status"] == "COMPLETED"
            and isinstance(r[space.objective], (int, float))
            and math.isfinite(r[space.objective])]
    if not done:
        return None
    sign = -1 if space.direction == "max" else 1
    return min(done, key=lambda r: (sign * r[space.objective], r["trial"]))


def write_table(space: Any, rows: list[dict[str, Any]],
                path: str | Path) -> None:
    """Write the results table as CSV (lists as JSON text)."""
    columns = ["trial", "status", *(p.name for p in space.params)]
    if any("epochs" in r for r in rows):
        columns.append("epochs")
    columns.append(space.objective)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(list(v)) if isinstance(v, tuple)
                             else v for k, v in row.items()})


def best_record(space: Any, row: dict[str, Any]) -> dict[str, Any]:
    """The JSON written to `best_hyperparameters.json`."""
    return {
        "recipe": space.recipe.name,
        "space": space.name,
        "objective": space.objective,
        "direction": space.direction,
        "value": row[space.objective],
        "trial": row["trial"],
        "hyperparameters": {p.name: _jsonable(row[p.name])
                            for p in space.params},
    }


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def plot(space: Any, rows: list[dict[str, Any]], path: str | Path) -> None:
    """Plot the objective against each hyper-parameter, best trial in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    best = best_row(space, rows)
    done = [r for r in rows if isinstance(r[space.objective], (int, float))]
    count = len(space.params)
    fig, axes = plt.subplots(1, count, figsize=(3.6 * count, 3.2),
                             squeeze=False)
    for ax, param in zip(axes[0], space.params):
        xs = [r[param.name] for r in done]
        ys = [r[space.objective] for r in done]
        if param.kind == "choice":
            labels = [str(v) for v in param.values]
            xs = [labels.index(str(x)) if str(x) in labels else -1
                  for x in xs]
            ax.set_xticks(range(len(labels)), labels, rotation=30,
                          fontsize=8)
        elif param.log:
            ax.set_xscale("log")
        ax.scatter(xs, ys, color="tab:blue", alpha=0.7)
        if best is not None:
            x = best[param.name]
            if param.kind == "choice":
                x = [str(v) for v in param.values].index(str(x))
            ax.scatter([x], [best[space.objective]], color="tab:red",
                       label="best", zorder=3)
        ax.set_xlabel(param.name)
        ax.set_ylabel(space.objective)
    fig.suptitle(f"{space.name}: {len(done)} trials "
                 f"({space.direction} {space.objective})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_all(space: Any, directory: str | Path,
              rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Write table, best JSON and plot; return the best record (or None)."""
    directory = Path(directory)
    write_table(space, rows, directory / RESULTS)
    plot(space, rows, directory / PLOT)
    best = best_row(space, rows)
    if best is None:
        return None
    record = best_record(space, best)
    (directory / BEST).write_text(json.dumps(record, indent=2) + "\n")
    return record


SPACE_RECORD = "space.json"


def write_space_record(directory: Path, space: Any, tuner: str,
                       max_trials: int | None, overwrite: bool) -> None:
    """Record the search in `directory/space.json`; refuse a different one.

    Resuming needs the same space and tuner; `max_trials` may grow.
    """
    record = {"space": space.as_dict(), "tuner": tuner}
    path = directory / SPACE_RECORD
    if path.is_file() and not overwrite:
        old = json.loads(path.read_text())
        old.pop("max_trials", None)
        if old != json.loads(json.dumps(record)):
            raise ValueError(
                f"{directory} holds a search with a different space or "
                f"tuner (see {path}). Pass --overwrite (overwrite=True) to "
                "start again, or choose another --dir.")
    if overwrite and (directory / "search").exists():
        import shutil

        shutil.rmtree(directory / "search")
    directory.mkdir(parents=True, exist_ok=True)
    record["max_trials"] = max_trials
    path.write_text(json.dumps(record, indent=2) + "\n")


def read_space_record(directory: Path) -> tuple[Any, str, int | None]:
    """Rebuild `(space, tuner, max_trials)` from `directory/space.json`."""
    from kerakit.workflow import recipes
    from kerakit.tuning.space import HyperParam
    from kerakit.tuning.space import SearchSpace

    record = json.loads((Path(directory) / SPACE_RECORD).read_text())
    data = record["space"]
    recipe = recipes.recipe_from_dict(data["recipe"])
    params = []
    for item in data["params"]:
        item = dict(item)
        kind = item.pop("kind")
        extra = ({"values": tuple(_tuple(v) for v in item.pop("values"))}
                 if kind == "choice" else
                 {"min_value": item.pop("min"), "max_value": item.pop("max"),
                  "step": item.pop("step"), "log": item.pop("log")})
        params.append(HyperParam(item["name"], kind,
                                 _tuple(item["default"]), **extra))
    space = SearchSpace(data["name"], recipe, tuple(params), data["source"],
                        record["tuner"], record["max_trials"])
    return space, record["tuner"], record["max_trials"]


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
