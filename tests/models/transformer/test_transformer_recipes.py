"""The shipped ViT/Swin recipes and the ViT search space."""

from __future__ import annotations

import keras_tuner

import kerakit
from kerakit import tuning
from kerakit.workflow import recipes


def test_vision_transformer_recipes_validate():
    for name in ("vit_digits", "swin_digits"):
        recipe = recipes.load_recipe(name)
        assert recipe.model in ("vit", "swin")
        model = kerakit.build(recipe.model,
                              **recipe.model_arguments((8, 8, 1), 10))
        assert model.output_shape == (None, 10)


def test_vit_digits_space_defaults_reproduce_the_recipe():
    space = tuning.load_space("vit_digits")
    assert "vit_digits" in tuning.list_spaces()
    names = {p.name for p in space.params}
    assert {"optimizer.learning_rate", "batch_size",
            "model_kwargs.num_layers"} <= names
    hypermodel = tuning.RecipeHyperModel(space, (8, 8, 1), 10)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    recipe = space.recipe
    expected = kerakit.build(recipe.model,
                             **recipe.model_arguments((8, 8, 1), 10))
    assert model.get_config() == expected.get_config()
    assert hypermodel.recipe_for(hp).batch_size == recipe.batch_size
