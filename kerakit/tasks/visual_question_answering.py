"""Visual question answering with ViLBERT: image + question -> answer.

The digit images of `digit_captions` are split by image and each split gets
seeded questions about its images ("what digit is this?", "is it even?",
"is it greater than five?", "is this a seven?";
`kerakit.data.visual_questions`). Answering is classification over the
answer vocabulary (the ten digit names, "yes", "no"), as in VQA. WordPiece
is learned on the training questions; the model (`vilbert*`, `head =
"answer"`) takes `num_answers` from the data. `metrics.json` records the
majority-answer test accuracy (`baseline`), what a model that ignores both
image and question gets, and the best blind accuracy that reads only the
question's kind (`question_only`). `kerakit.predict(run, {"images": ...,
"questions": [...]})` returns an answer per (image, question) pair.

Example:
>>> VisualQuestionAnsweringTask().defaults["monitor"]
'val_accuracy'
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerakit.data.splits import DataError
from kerakit.data.splits import Splits
from kerakit.data.visual_questions import ANSWERS
from kerakit.data.visual_questions import digit_questions
from kerakit.tasks.classification import ClassificationTask
from kerakit.tasks.image_text_matching import ImageTextTask

QUESTIONS_PER_IMAGE = 3


class VisualQuestionAnsweringTask(ImageTextTask):
    """Image + question -> answer logits (see the module doc)."""

    name = "visual_question_answering"
    description = ("image + question -> answer class (ViLBERT, answer "
                   "head); accuracy vs the majority answer")
    head = "answer"
    text_key = "questions"

    def load_splits(self, dataset: dict[str, Any],
                    preprocessing: dict[str, Any], seed: int,
                    model_kwargs: dict[str, Any] | None = None) -> Splits:
        """Split the images, ask questions per split, learn WordPiece on
        the training questions."""
        data, parts = self.load_images(dataset, seed)
        examples = []
        for number, index in enumerate(parts):
            try:
                which, questions, answers = digit_questions(
                    data.labels[index], np.random.default_rng(
                        [seed, number]), QUESTIONS_PER_IMAGE)
            except ValueError as err:
                raise DataError(str(err)) from None
            examples.append((index[which], questions, answers))
        return self.finish_splits(data, examples, preprocessing,
                                  dict(model_kwargs or {}))

    def answer_names(self, data: Any) -> list[str]:
        """The answer vocabulary."""
        return list(ANSWERS)

    def model_sizes(self, pre: Any) -> dict[str, int]:
        """`num_answers` for the answer head."""
        return {"num_answers": len(pre.class_names)}

    def report(self, model: keras.Model, splits: Splits, run_dir: Path,
               seed: int) -> dict[str, Any]:
        """Majority-answer and question-only test accuracies."""
        pre = splits.preprocessor
        train_y, test_y = splits.train[1], splits.test[1]
        majority = int(np.bincount(train_y).argmax())

        def kind(x: np.ndarray) -> list[tuple]:
            # The question's ids without padding: all a blind model sees.
            return [tuple(i for i in row if i) for row in x["token_ids"]]

        best: dict[tuple, Counter] = {}
        for key, answer in zip(kind(splits.train[0]), train_y.tolist()):
            best.setdefault(key, Counter())[answer] += 1
        guesses = [best[key].most_common(1)[0][0] if key in best
                   else majority for key in kind(splits.test[0])]
        return {"baseline": {
            "majority_answer": pre.class_names[majority],
            "test_accuracy": float(np.mean(test_y == majority)),
            "question_only_test_accuracy": float(np.mean(
                np.asarray(guesses) == test_y))}}

    def predict(self, model: keras.Model, x: Any,
                class_names: list[str]) -> dict[str, Any]:
        """`{"classes", "class_names", "probabilities", "questions"}`."""
        logits, questions = self.pair_logits(model, x)
        out = ClassificationTask().predict_logits(logits, class_names)
        return {**out, "questions": questions}

    def describe_predictions(self, out: dict[str, Any]) -> list[str]:
        """`index, answer, probability, question` per pair."""
        probs = out["probabilities"]
        return [f"{i}\t{name}\t{probs[i, c]:.4f}\t{q}" for i, (c, name, q) in
                enumerate(zip(out["classes"], out["class_names"],
                              out["questions"]))]
