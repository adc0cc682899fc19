"""Knowledge distillation as a `keras.Model` that trains with `fit`."""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="kerakit")
class Distiller(keras.Model):
    """Train `student` on labels and on a frozen `teacher`'s soft targets.

    The loss is `alpha * student_loss(y, s) + (1 - alpha) * T**2 *
    KL(softmax(t / T) || softmax(s / T))` with `s`, `t` the student and
    teacher logits and `T` the temperature. It is computed in
    `compute_loss`, which every backend's `train_step` calls, so plain
    `compile` + `fit` works on TensorFlow, JAX and PyTorch. Calling the
    distiller runs the student, so `evaluate` and `predict` measure it.

    Args:
        student: Model to train; outputs logits.
        teacher: Trained model with the same output shape; frozen here.
        temperature: Softening temperature `T` (> 0).
        alpha: Weight of the label loss; `1 - alpha` goes to distillation.
        **kwargs: Base `Model` arguments (`name`).

    Example:
    >>> s = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> t = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> d = Distiller(student=s, teacher=t, temperature=2.0, alpha=0.5)
    >>> d.compile(optimizer="sgd", loss=keras.losses.
    ...           SparseCategoricalCrossentropy(from_logits=True))
    >>> tuple(d(keras.ops.ones((2, 4))).shape)
    (2, 3)

    Reference:
        Hinton et al., 2015. https://arxiv.org/abs/1503.02531
    """

    def __init__(self, student: keras.Model, teacher: keras.Model,
                 temperature: float = 3.0, alpha: float = 0.1,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(student, keras.Model) or not isinstance(
            teacher, keras.Model
        ):
            raise TypeError(
                "Distiller needs keras.Model instances for student and "
                f"teacher. Received: {type(student).__name__}, "
                f"{type(teacher).__name__}"
            )
        if float(temperature) <= 0 or not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(
                "Distiller needs temperature > 0 and 0 <= alpha <= 1. "
                f"Received: temperature={temperature}, alpha={alpha}"
            )
        self.student = student
        self.teacher = teacher
        self.teacher.trainable = False
        self.temperature = float(temperature)
        self.alpha = float(alpha)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        return self.student(inputs, training=training)

    def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None,
                     sample_weight: Any = None,
                     training: bool = True) -> Any:
        """Blend the compiled (label) loss with the distillation loss."""
        student_loss = super().compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
            training=training,
        )
        teacher_pred = keras.ops.stop_gradient(
            self.teacher(x, training=False)
        )
        t = self.temperature
        soft_teacher = keras.ops.softmax(teacher_pred / t, axis=-1)
        log_student = keras.ops.log_softmax(y_pred / t, axis=-1)
        log_teacher = keras.ops.log_softmax(teacher_pred / t, axis=-1)
        kl = keras.ops.sum(soft_teacher * (log_teacher - log_student),
                           axis=-1)
        distill = keras.ops.mean(kl) * (t * t)
        return self.alpha * student_loss + (1.0 - self.alpha) * distill

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({
            "student": keras.saving.serialize_keras_object(self.student),
            "teacher": keras.saving.serialize_keras_object(self.teacher),
            "temperature": self.temperature,
            "alpha": self.alpha,
        })
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Distiller:
        """Rebuild, deserialising student and teacher."""
        config = dict(config)
        for key in ("student", "teacher"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
