"""A kernel that submits a job and can be killed at any step: run as a script by the tests.

    python submitter.py <base_url> <token> <rows> <max_requests> [budget]

Uses the registry under ``DW_NOTEBOOK_HOME`` (shared with the test); prints ``SUBMITTED <name>``.
"""

from __future__ import annotations

import sys

import dw_notebook as dw
from dw_notebook.datasets import sample_reviews

PROMPT = "Sentiment of this review, one word: {review}"

if __name__ == "__main__":
    base_url, token, rows, max_requests = sys.argv[1:5]
    job = dw.submit(
        sample_reviews(int(rows)), PROMPT, model="mock", name="killed",
        max_requests=int(max_requests), api_key=token, base_url=base_url,
    )  # fmt: skip
    print("SUBMITTED", job.name, flush=True)
