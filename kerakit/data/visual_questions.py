"""Questions about digit images and their answers (VQA-style, offline).

For each image of `digit_captions` (scikit-learn's real 8x8 digits), seeded
questions of four kinds, each in several phrasings:

- which digit: "what digit is this?" -> the digit's name;
- parity: "is it even?" -> yes / no;
- size: "is it greater than five?" -> yes / no;
- identity: "is this a seven?" -> yes / no (the asked digit is the true one
  half of the time).

The answer vocabulary (`ANSWERS`) is the ten digit names plus "yes" and
"no"; answering is classification over it, as VQA models do. The answers a
model can get without looking (the majority answer, or the best answer per
question kind) are the baselines the task reports.

Example:
>>> index, questions, answers = digit_questions(
...     np.array([7]), np.random.default_rng(0), per_image=2)
>>> [(q, ANSWERS[a]) for q, a in zip(questions, answers)]
[('is it greater than five?', 'yes'), ('what digit is this?', 'seven')]
"""

from __future__ import annotations

import numpy as np

from kerakit.data.image_text import DIGIT_NAMES

ANSWERS = (*DIGIT_NAMES, "yes", "no")
QUESTIONS = {
    "which": ("what digit is this?", "which digit is shown?",
              "what number is in the image?"),
    "even": ("is it even?", "is it an even digit?",
             "is the number even?"),
    "greater": ("is it greater than five?", "is this digit more than five?",
                "is the number bigger than five?"),
    "identity": ("is this a {name}?", "does the image show a {name}?",
                 "is the digit a {name}?"),
}


def _yes(flag: bool) -> int:
    return ANSWERS.index("yes" if flag else "no")


def digit_questions(labels: np.ndarray, rng: np.random.Generator,
                    per_image: int = 3) -> tuple[np.ndarray, list[str],
                                                 np.ndarray]:
    """Questions about digit images (labels 0..9) and answer ids.

    Args:
        labels: The digit of each image.
        rng: Draws the kinds, phrasings and asked digits.
        per_image: Questions per image (kinds drawn without repeats while
            there are kinds left).

    Returns:
        `(image index, question, answer id into ANSWERS)` per example.

    Raises:
        ValueError: For labels outside 0..9 (the questions are about
            digits).
    """
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(
            "Digit questions need images labelled with digits 0..9 "
            "(dataset.name = 'digit_captions'); images without labels "
            "(pairs:PATH) have no answers to learn.")
    kinds = list(QUESTIONS)
    index, questions, answers = [], [], []
    for i, label in enumerate(labels.tolist()):
        order = rng.permutation(len(kinds))
        for k in range(per_image):
            kind = kinds[order[k % len(kinds)]]
            phrasing = QUESTIONS[kind][rng.integers(len(QUESTIONS[kind]))]
            if kind == "which":
                answer = label
            elif kind == "even":
                answer = _yes(label % 2 == 0)
            elif kind == "greater":
                answer = _yes(label > 5)
            else:
                asked = label if rng.random() < 0.5 else int(
                    rng.choice([d for d in range(10) if d != label]))
                phrasing = phrasing.format(name=DIGIT_NAMES[asked])
                answer = _yes(asked == label)
            index.append(i)
            questions.append(phrasing)
            answers.append(answer)
    return (np.asarray(index, int), questions,
            np.asarray(answers, "int64"))
