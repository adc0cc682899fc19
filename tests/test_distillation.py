import keras
import numpy as np
import pytest

from kerakit import components
from kerakit.distillation import Distiller


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 4)).astype("float32")
    y = (x[:, 0] - x[:, 1] > 0).astype("int32")
    return x, y


def _teacher(x, y):
    teacher = keras.Sequential([keras.Input((4,)),
                                keras.layers.Dense(8, activation="relu"),
                                keras.layers.Dense(2)])
    teacher.compile(keras.optimizers.Adam(0.05),
                    components.get("losses", "cross_entropy"))
    teacher.fit(x, y, epochs=5, batch_size=16, verbose=0)
    return teacher


def test_distiller_fit_evaluate_save(tmp_path):
    x, y = _data()
    teacher = _teacher(x, y)
    teacher_weights = teacher.get_weights()
    student = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    distiller = components.get("regularizers", "distillation",
                               student=student, teacher=teacher,
                               temperature=2.0, alpha=0.3)
    distiller.compile(keras.optimizers.Adam(0.05),
                      components.get("losses", "cross_entropy"),
                      metrics=["accuracy"])
    before = student.get_weights()
    history = distiller.fit(x, y, epochs=4, batch_size=16,
                            verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    assert not np.allclose(before[0], student.get_weights()[0])
    for old, new in zip(teacher_weights, teacher.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    assert "accuracy" in distiller.evaluate(x, y, verbose=0,
                                            return_dict=True)
    path = str(tmp_path / "distiller.keras")
    distiller.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(loaded.predict(x, verbose=0),
                               distiller.predict(x, verbose=0), atol=1e-5)
    assert (loaded.temperature, loaded.alpha) == (2.0, 0.3)


def test_pure_distillation_moves_student_towards_teacher():
    x, y = _data()
    teacher = _teacher(x, y)
    student = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    distiller = Distiller(student, teacher, temperature=1.0, alpha=0.0)
    distiller.compile(keras.optimizers.Adam(0.05),
                      components.get("losses", "cross_entropy"))
    target = teacher.predict(x, verbose=0).argmax(1)

    def agreement():
        return (student.predict(x, verbose=0).argmax(1) == target).mean()

    before = agreement()
    history = distiller.fit(x, np.zeros_like(y), epochs=8, batch_size=8,
                            verbose=0).history["loss"]
    # With alpha=0 the labels (all zero) are ignored: only the KL term, so
    # the student learns the teacher's decisions, not the constant labels.
    assert history[-1] < history[0]
    assert agreement() > max(before, 0.75)


def test_bad_arguments():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="alpha"):
        Distiller(model, model, alpha=2.0)
    with pytest.raises(TypeError, match="keras.Model"):
        Distiller(model, "teacher")
