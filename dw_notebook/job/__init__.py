"""The job layer: submitting DataFrames as batches, tracking them, and joining their results.

``submit`` builds, records and creates; ``core.Job`` is one job's batches and commands;
``tracking`` turns polled batches into snapshots; ``reading`` downloads and joins result files;
``retry`` picks the rows to send again; ``create`` makes one batch; ``registry`` keeps every id
on disk; ``poller`` polls on a daemon thread.
"""

from .core import Job, JobViews
from .tracking import aggregate_phase

__all__ = ["Job", "JobViews", "aggregate_phase"]
