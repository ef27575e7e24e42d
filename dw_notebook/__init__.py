"""Batch LLM inference over pandas DataFrames, native to Jupyter.

>>> import pandas as pd, dw_notebook as dw
>>> df = pd.DataFrame({"review": ["Loved it", "Dull and slow"]})
>>> job = dw.submit(df, "Sentiment of this review, one word: {review}", model="mock")
>>> job                    # doctest: +SKIP  (live progress; the kernel stays free)
>>> out = job.join()       # doctest: +SKIP  (df with the answers joined by custom_id)

Without ``DOUBLEWORD_API_KEY`` everything runs against an embedded local Batch API server whose
answers are simulated; with it, the same code talks to Doubleword.
"""

from __future__ import annotations

from . import accessor as _accessor  # noqa: F401  (registers df.dw)
from .autobatch import AutoBatch, autobatch
from .errors import (
    APIError,
    BudgetExceededError,
    ConfigError,
    DwError,
    JobError,
    MissingResultFileError,
    RegistryError,
    ServiceBusyError,
    TransportError,
)
from .job import Job
from .job.submit import attach, connect, estimate, list_jobs, models, prepare, submit
from .local import local, stop_local
from .ui import builder, jobs, review, views

Job.views = views  # jobs show themselves with the widgets
del views


def _show_autobatch(client: AutoBatch) -> None:
    from IPython.display import display

    from .widgets.autobatch import AutoBatchWidget

    display(AutoBatchWidget(read=client.status))


AutoBatch.views = _show_autobatch

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "BudgetExceededError",
    "ConfigError",
    "DwError",
    "Job",
    "JobError",
    "MissingResultFileError",
    "RegistryError",
    "ServiceBusyError",
    "TransportError",
    "attach",
    "autobatch",
    "builder",
    "connect",
    "estimate",
    "jobs",
    "list_jobs",
    "local",
    "models",
    "prepare",
    "stop_local",
    "review",
    "submit",
]
