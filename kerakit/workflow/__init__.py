"""The recipe workflow: recipes and their schema, train, evaluate, predict.

- `recipes` / `schema`: recipe files, validation, `Recipe.compile`;
- `training`: `train` (splits, fit through the recipe's task, best weights,
  early stopping, resuming, the single test evaluation);
- `inference`: `evaluate_run` and `predict` on a finished run;
- `runs`: run-directory files (atomic JSON, environment, history, plots).
"""
