"""Recipe loading, validation errors, overrides and compile."""

from __future__ import annotations

import keras
import pytest

from kerakit.workflow import recipes
from kerakit.cli import main
from kerakit.workflow.recipes import RecipeError
from kerakit.workflow.recipes import load_recipe

BASE = """
name = "t"
model = "lenet5"
[dataset]
name = "digits"
"""


def write(tmp_path, text, name="r.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", recipes.list_recipes())
def test_shipped_recipes_validate(name):
    recipe = load_recipe(name)
    assert recipe.name == name
    assert recipe.description
    assert recipe.monitor.startswith("val_")


def test_list_recipes_has_the_shipped_set():
    expected = {"lenet_digits", "mlp_digits", "lenet_mnist",
                "resnet18_cifar10", "vgg11_cifar10", "mobilenet_v2_cifar10"}
    assert expected <= set(recipes.list_recipes())


def test_defaults_are_filled(tmp_path):
    recipe = load_recipe(write(tmp_path, BASE))
    assert recipe.optimizer["name"] == "adam"
    assert recipe.loss == "sparse_categorical_crossentropy"
    assert recipe.metrics == ("accuracy",)
    assert recipe.preprocessing["augment"]["flip"] == "none"


@pytest.mark.parametrize("text, field, allowed", [
    ('bogus = 1', "'bogus'", "batch_size"),
    ('[dataset.splits]\nx = 1', "'dataset.splits'", "validation_fraction"),
    ('batch_size = "32"', "'batch_size'", None),
    ('epochs = 1.5', "'epochs'", None),
    ('epochs = 0', "'epochs'", None),
    ('[optimizer]\nname = "adamm"', "'optimizer.name'", "sgd"),
    ('[optimizer]\nmomentumm = 0.9', "'optimizer.momentumm'", "weight_decay"),
    ('loss = "crossentropy"', "'loss'", "sparse_categorical_crossentropy"),
    ('loss = {name = "huber", deltaa = 1.0}', "'loss.deltaa'", "delta"),
    ('metrics = ["acc", "accuracy"]', "'metrics[0]'", "accuracy"),
    ('monitor = "val_auc"', "'monitor'", "val_accuracy"),
    ('[preprocessing]\nresize_method = "cubic"',
     "'preprocessing.resize_method'", "bilinear"),
    ('[preprocessing.augment]\nflip = "yes"', "'preprocessing.augment.flip'",
     "horizontal"),
    ('[preprocessing]\nimage_size = [32]', "'preprocessing.image_size'",
     None),
    ('[preprocessing]\none_hot = true', "'preprocessing.one_hot'", None),
])
def test_validation_errors_name_file_field_and_allowed(tmp_path, text, field,
                                                       allowed):
    lines = BASE.splitlines()
    # Top-level keys must precede the [dataset] table in TOML.
    body = text + "\n" + "\n".join(lines) if not text.startswith("[") else (
        "\n".join(lines) + "\n" + text)
    path = write(tmp_path, body)
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    message = str(info.value)
    assert str(path) in message
    assert field in message
    if allowed:
        assert "Allowed" in message and allowed in message


def test_unknown_model_and_model_kwargs(tmp_path):
    path = write(tmp_path, BASE.replace('"lenet5"', '"lenet"'))
    with pytest.raises(RecipeError, match=r"'model'.*lenet5"):
        load_recipe(path)
    path = write(tmp_path, BASE + "[model_kwargs]\nwidthh = 3\n")
    with pytest.raises(RecipeError, match=r"model_kwargs.*widthh.*Accepted"):
        load_recipe(path)


def test_bad_toml_and_missing_recipe(tmp_path):
    with pytest.raises(RecipeError, match="not valid TOML"):
        load_recipe(write(tmp_path, "name = "))
    with pytest.raises(FileNotFoundError, match="lenet_digits"):
        load_recipe("lenet_digit")


def test_overrides_are_validated_and_recorded():
    recipe = load_recipe("lenet_digits", {"epochs": 3,
                                          "optimizer.learning_rate": 0.01,
                                          "model_kwargs.dropout": 0.1})
    assert recipe.epochs == 3
    assert recipe.optimizer["learning_rate"] == 0.01
    assert recipe.model_kwargs["dropout"] == 0.1
    assert recipe.overrides["epochs"] == 3
    assert recipe.to_dict()["overrides"]["optimizer.learning_rate"] == 0.01
    again = recipe.with_overrides({"batch_size": 64})
    assert again.batch_size == 64 and again.epochs == 3
    assert set(again.overrides) == {"epochs", "optimizer.learning_rate",
                                    "model_kwargs.dropout", "batch_size"}
    assert again.fingerprint() != recipe.fingerprint()
    with pytest.raises(RecipeError, match="'optimizer.learnin_rate'"):
        recipe.with_overrides({"optimizer.learnin_rate": 1.0})
    with pytest.raises(RecipeError, match="not a table"):
        recipe.with_overrides({"epochs.x": 1})
    with pytest.raises(dataclasses_frozen_error()):
        recipe.epochs = 4


def dataclasses_frozen_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


def test_compile_uses_logits_schedule_and_metrics():
    recipe = load_recipe("resnet18_cifar10", {"epochs": 2})
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    recipe.compile(model, steps_per_epoch=5)
    assert model.loss.get_config()["from_logits"] is True
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    schedule = model.optimizer._learning_rate
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    assert schedule.warmup_steps == 9  # 2 warm-up epochs, capped at total-1


def test_cli_recipes_lists_one_line_each(capsys):
    assert main(["recipes"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(recipes.list_recipes())
    assert lines[0].startswith("lenet_digits")


def test_cli_train_reports_recipe_errors(capsys):
    assert main(["train", "lenet_digits", "--set", "epochz=3"]) == 2
    err = capsys.readouterr().err
    assert "'epochz'" in err and "Traceback" not in err
