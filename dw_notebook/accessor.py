"""``df.dw``: a thin door onto the public API for method chaining."""

from __future__ import annotations

from typing import Any

import pandas as pd


@pd.api.extensions.register_dataframe_accessor("dw")
class DwAccessor:
    """``df.dw.submit(prompt, model=...)`` is ``dw.submit(df, prompt, model=...)``."""

    def __init__(self, df: pd.DataFrame) -> None:
        self._df = df

    def submit(self, prompt: Any = None, **kwargs: Any) -> Any:
        from .job.submit import submit

        return submit(self._df, prompt, **kwargs)

    def attach(self, key: str, **kwargs: Any) -> Any:
        from .job.submit import attach

        return attach(key, self._df, **kwargs)
