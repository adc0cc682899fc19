"""The KerasTuner hypermodel of a search space, and the check of its values.

`RecipeHyperModel.build(hp)` applies a trial's values to the recipe, builds
the model through the registry and compiles it through `Recipe.compile`;
`fit` trains through the recipe's task, as `kerakit.train` does.
`check_values` builds every value of a space before the first trial.
"""

from __future__ import annotations

import json
from typing import Any

from kerakit.tuning.space import SearchSpace


def _hypermodel_base() -> type:
    import keras_tuner

    return keras_tuner.HyperModel


class RecipeHyperModel(_hypermodel_base()):
    """A KerasTuner `HyperModel` made from a search space.

    `build(hp)` applies the hyper-parameter values to the recipe, calls
    `kerakit.build` and compiles through `Recipe.compile`; `fit(hp, ...)`
    takes the batch size from the recipe with `hp` applied and adds the
    recipe's early stopping.

    Args:
        space: The `SearchSpace`.
        input_shape: Model input shape (from the data).
        num_classes: Number of classes (from the data).
        splits: `kerakit.data.splits.Splits`; when given, `fit` without
            data trains through the recipe's task (`kerakit.tasks`): its
            shuffled (and augmented) batches, validation data and loop.

    Example:
    >>> import keras_tuner
    >>> from kerakit.tuning.search import load_space
    >>> space = load_space("mlp_digits")
    >>> hm = RecipeHyperModel(space, (64,), 10)
    >>> hm.recipe_for(keras_tuner.HyperParameters()).batch_size
    32
    """

    def __init__(self, space: SearchSpace, input_shape: Any,
                 num_classes: int | None, splits: Any = None):
        super().__init__(name=space.name)
        self.space = space
        self.input_shape = input_shape
        self.num_classes = num_classes
        self.splits = splits

    def recipe_for(self, hp: Any) -> Any:
        """The recipe with this trial's hyper-parameter values applied."""
        values = {p.name: p.declare(hp) for p in self.space.params}
        return self.space.recipe.with_overrides(values)

    def build(self, hp: Any) -> Any:
        """Build and compile the trial's model (the recipe's by default)."""
        recipe = self.recipe_for(hp)
        from_data = getattr(self.splits, "model_arguments", None) or {}
        steps = None
        if self.splits is not None:
            steps = _task(recipe).steps_per_epoch(self.splits,
                                                  recipe.batch_size)
        return recipe.build_model(self.input_shape, self.num_classes,
                                  steps_per_epoch=steps, **from_data)

    def fit(self, hp: Any, model: Any, *args: Any, **kwargs: Any) -> Any:
        """Fit with the trial's batch size and the recipe's early stopping.

        Without data arguments the recipe's task trains the model as
        `kerakit.train` does (its batches, validation data and loop); the
        returned `History` gives KerasTuner the objective.
        """
        import keras

        from kerakit.precision import graph_rewrite_scope
        from kerakit.precision import resolve_precision

        recipe = self.recipe_for(hp)
        callbacks = list(kwargs.pop("callbacks", []))
        if recipe.patience:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor=recipe.monitor, patience=recipe.patience,
                mode=self.space.direction))
        with graph_rewrite_scope(resolve_precision(recipe.precision)):
            if args or "x" in kwargs or self.splits is None:
                kwargs["batch_size"] = recipe.batch_size
                return model.fit(*args, callbacks=callbacks, **kwargs)
            # A task may own its loop (no `model.fit`), so the objective is
            # read from a History callback, not from what fit returns.
            history = keras.callbacks.History()
            _task(recipe).fit(
                model, self.splits, batch_size=recipe.batch_size,
                seed=recipe.seed, epochs=kwargs.get("epochs", recipe.epochs),
                initial_epoch=kwargs.get("initial_epoch", 0),
                callbacks=[*callbacks, history],
                verbose=kwargs.get("verbose", 0))
        return history


def _task(recipe: Any) -> Any:
    from kerakit.workflow import training

    return training.task_of(recipe)


def check_values(space: SearchSpace, hypermodel: RecipeHyperModel) -> None:
    """Build and compile a trial's model for every value of the space.

    Each value (see `HyperParam.checked_values`) is tried with the other
    hyper-parameters at their defaults, through `hypermodel.build` exactly
    as a trial builds it, before the first trial: a value that the model
    factory, the optimizer or the recipe rejects is reported in one line
    naming the hyper-parameter, instead of failing trials mid-search.
    Values giving the same model and optimizer are built once.

    Raises:
        ValueError: `"<space>: hyper-parameter 'x' value v is rejected by
            <model>: <reason> ..."`.

    Example:
        check_values(space, RecipeHyperModel(space, (64,), 10))
    """
    import keras_tuner

    seen = set()
    for param in space.params:
        for value in param.checked_values():
            hp = keras_tuner.HyperParameters()
            # A value set before `declare` is the one `declare` returns.
            hp.values[param.name] = param.encode(value)
            try:
                recipe = hypermodel.recipe_for(hp)
                key = json.dumps([recipe.model, recipe.model_kwargs,
                                  recipe.optimizer, recipe.loss,
                                  list(recipe.metrics)], sort_keys=True,
                                 default=str)
                if key in seen:
                    continue
                seen.add(key)
                hypermodel.build(hp)
            except Exception as err:  # whatever the factory raises
                reason = (str(err).strip().splitlines() or [""])[0]
                raise ValueError(
                    f"{space.source}: hyper-parameter {param.name!r} value "
                    f"{value!r} is rejected by {space.recipe.model}: "
                    f"{type(err).__name__}: {reason} Narrow the range or "
                    "drop the value, so that no trial fails on it."
                ) from None
