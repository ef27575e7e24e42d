"""The poller thread: polls until done, survives failing polls, stops on request."""

from __future__ import annotations

import threading

from dw_notebook.job.poller import Poller
from dw_notebook.progress.snapshot import JobSnapshot


class FakeJob:
    """Counts refreshes; done after ``finish_after``; raises on the polls listed in ``boom``."""

    def __init__(self, finish_after: int, boom: tuple[int, ...] = ()) -> None:
        self.calls = 0
        self.finish_after = finish_after
        self.boom = boom
        self.finished = threading.Event()

    def refresh(self) -> JobSnapshot:
        self.calls += 1
        if self.calls in self.boom:
            raise RuntimeError("unexpected")
        done = self.calls >= self.finish_after
        if done:
            self.finished.set()
        return JobSnapshot("fake", "completed" if done else "in_progress", done=done)


def test_polls_until_the_job_is_done_then_stops():
    job = FakeJob(finish_after=4)
    poller = Poller(job, interval=0.001).start()
    poller.join(timeout=10)
    assert not poller.running and job.calls == 4


def test_an_exception_in_a_poll_does_not_kill_the_thread():
    job = FakeJob(finish_after=5, boom=(2, 3))
    poller = Poller(job, interval=0.001).start()
    assert job.finished.wait(10)
    poller.join(timeout=10)
    assert job.calls == 5


def test_stop_ends_polling_of_an_unfinished_job():
    job = FakeJob(finish_after=10**9)
    poller = Poller(job, interval=0.001).start()
    poller.stop()
    poller.join(timeout=10)
    assert not poller.running
    assert poller._thread.daemon
