"""Losses kerakit writes itself; the classic ones resolve to `keras.losses`.

See `kerakit.components.list("losses")` for the names users can give.
"""

from kerakit.losses.dice import DiceLoss
from kerakit.losses.info_nce import InfoNCE
from kerakit.losses.info_nce import info_nce
from kerakit.losses.triplet import TripletLoss
from kerakit.losses.triplet import pairwise_distances

__all__ = [
    "DiceLoss",
    "InfoNCE",
    "TripletLoss",
    "info_nce",
    "pairwise_distances",
]
