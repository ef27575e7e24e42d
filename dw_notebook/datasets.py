"""Small synthetic data for the quickstart, the demo and tests (no downloads)."""

from __future__ import annotations

import numpy as np
import pandas as pd

_OPENINGS = [
    "Loved it",
    "Dull and slow",
    "Fine, I guess",
    "Absolutely brilliant",
    "Not worth the money",
    "Arrived broken",
    "Exactly as described",
    "Better than expected",
    "Would not buy again",
    "Five stars",
    "Meh",
    "Surprisingly good",
    "Terrible support",
    "Quick delivery",
]
_DETAILS = [
    "the battery lasts all day",
    "the packaging was torn",
    "setup took two minutes",
    "it stopped working after a week",
    "the colour is lovely",
    "instructions were confusing",
    "my kids use it every day",
    "customer service never replied",
    "it feels cheap",
    "great value for the price",
    "it is louder than I hoped",
    "fits perfectly",
]
_PRODUCTS = ["headphones", "kettle", "backpack", "desk lamp", "phone case", "blender", "jacket"]


def sample_reviews(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """``n`` short synthetic product reviews with a ``product`` and a ``review`` column.

    >>> sample_reviews(2).columns.tolist()
    ['product', 'review']
    """
    rng = np.random.default_rng(seed)
    openings = rng.choice(_OPENINGS, n)
    details = rng.choice(_DETAILS, n)
    products = rng.choice(_PRODUCTS, n)
    reviews = [f"{o}: {d}." for o, d in zip(openings, details, strict=True)]
    return pd.DataFrame(
        {"product": products, "review": reviews},
        index=pd.Index([f"r{i:05d}" for i in range(n)], name="review_id"),
    )
