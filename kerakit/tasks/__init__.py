"""Tasks: what a recipe fits against, evaluates and writes (one module each).

A recipe names its task (`task = "classification"`); without one, the
model's registry entry gives the default (`default_task`). Each task is a
:class:`kerakit.tasks.base.Task`; `register_task` adds a new kind, so a new
family adds a task module, not a branch in the training loop.

Example:
>>> list_tasks()  # doctest: +NORMALIZE_WHITESPACE
['classification', 'contrastive_image_text', 'generative',
 'graph_classification',
 'image_text_matching', 'language_modeling', 'masked_language_modeling',
 'node_classification',
 'reconstruction', 'regression', 'reinforcement_learning', 'seq2seq',
 'speech_recognition', 'text_classification', 'text_to_text',
 'visual_question_answering']
>>> default_task("lenet5"), default_task("vae"), default_task("gcn")
('classification', 'generative', 'node_classification')
"""

from __future__ import annotations

import difflib

from kerakit.tasks.base import Task
from kerakit.tasks.classification import ClassificationTask
from kerakit.tasks.contrastive_image_text import ContrastiveImageTextTask
from kerakit.tasks.generative import GenerativeTask
from kerakit.tasks.graph_classification import GraphClassificationTask
from kerakit.tasks.image_text_matching import ImageTextMatchingTask
from kerakit.tasks.language_modeling import LanguageModelingTask
from kerakit.tasks.masked_language_modeling import MaskedLanguageModelingTask
from kerakit.tasks.node_classification import NodeClassificationTask
from kerakit.tasks.reconstruction import ReconstructionTask
from kerakit.tasks.reinforcement_learning import ReinforcementLearningTask
from kerakit.tasks.regression import RegressionTask
from kerakit.tasks.seq2seq import Seq2SeqTask
from kerakit.tasks.speech_recognition import SpeechRecognitionTask
from kerakit.tasks.text_classification import TextClassificationTask
from kerakit.tasks.text_to_text import TextToTextTask
from kerakit.tasks.visual_question_answering import (
    VisualQuestionAnsweringTask,
)

_TASKS: dict[str, Task] = {}


def register_task(task_class: type[Task]) -> type[Task]:
    """Register a `Task` subclass under its `name` (usable as a decorator).

    Raises:
        ValueError: When the name is empty or already registered.
    """
    name = task_class.name
    if not name or name in _TASKS:
        raise ValueError(f"Task name {name!r} is empty or already "
                         f"registered. Registered: {list_tasks()}")
    _TASKS[name] = task_class()
    return task_class


def list_tasks() -> list[str]:
    """Return the registered task names, sorted."""
    return sorted(_TASKS)


def describe_tasks() -> dict[str, str]:
    """Return `{task name: one-line description}`, sorted by name."""
    return {name: _TASKS[name].description for name in list_tasks()}


def get_task(name: str) -> Task:
    """Return the task registered as `name`.

    Raises:
        ValueError: For an unknown name, listing the known ones.
    """
    if name not in _TASKS:
        close = difflib.get_close_matches(str(name), list_tasks(), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown task {name!r}.{hint} Known tasks: "
                         f"{', '.join(list_tasks())}.")
    return _TASKS[name]


def default_task(model: str, model_kwargs: dict | None = None) -> str:
    """The task a recipe of registered `model` gets when it names none.

    A model that takes a `task` argument (`mlp`, `lstm`: classification or
    regression) gets the task that argument names.
    """
    from kerakit.registry import get_entry

    label = get_entry(model).task
    chosen = (model_kwargs or {}).get("task")
    if isinstance(chosen, str) and any(
            chosen in task.model_tasks for task in _TASKS.values()):
        label = chosen
    for name in list_tasks():
        if label in _TASKS[name].model_tasks:
            return name
    raise ValueError(
        f"Model {model!r} (registry task {label!r}) has no default task: "
        f"set task = one of {', '.join(list_tasks())} in the recipe.")


for _task in (ClassificationTask, RegressionTask, ReconstructionTask,
              GenerativeTask, Seq2SeqTask, NodeClassificationTask,
              GraphClassificationTask, LanguageModelingTask,
              TextClassificationTask, MaskedLanguageModelingTask,
              TextToTextTask, ReinforcementLearningTask):
    register_task(_task)
register_task(ImageTextMatchingTask)
register_task(VisualQuestionAnsweringTask)
register_task(SpeechRecognitionTask)
register_task(ContrastiveImageTextTask)

__all__ = [
    "Task",
    "default_task",
    "describe_tasks",
    "get_task",
    "list_tasks",
    "register_task",
]
