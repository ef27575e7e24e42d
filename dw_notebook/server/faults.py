"""Fault switchboard: make the API misbehave on purpose, for reliability tests.

>>> faults = Faults()
>>> rule = faults.rate_limit(count=2, retry_after=3)   # next two API requests answer 429
>>> faults.server_error(status=503, fraction=0.5)      # half of them answer 503
>>> faults.drop_connection(count=1)                    # cut the connection mid-body
>>> faults.slow(delay=2.0, count=1)                    # answer after two seconds
>>> faults.rate_limit(seconds=30, retry_after=60, path="/v1/batches")  # 429s for 30 s
>>> faults.capacity(seconds=600)                       # creates answer 429, Retry-After 60
>>> faults.payment_required(count=1)                   # next batch create answers 402
>>> faults.read_outage(seconds=10)                     # GETs of batch/file ids answer 404
>>> faults.late_completion(requests=3, delay=0.5)      # next cancel: 3 requests finish later
>>> faults.clear()
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

#: Faults in answers to API requests (applied in front of the routes).
HTTP_KINDS = (
    "rate_limit", "server_error", "drop_connection", "slow", "payment_required", "read_outage"
)  # fmt: skip
#: ``late_completion``: at a Doubleword cancel, ``requests`` pending requests are kept in
#: flight and complete ``delay`` seconds after the batch reads ``cancelled``.
KINDS = (*HTTP_KINDS, "late_completion")

# the control layer's 402 texts (dwctl/src/api/handlers/batches.rs, create_batch)
LOW_BALANCE = "Account balance too low. Please add credits to continue."
SPEND_CAP = (
    "The API key used for this batch has reached its spending cap. Raise or remove the cap, "
    "or wait for the cap window to reset, then resubmit."
)


@dataclass
class Rule:
    """One injected fault; ``count`` None is unlimited, ``fraction`` the chance per request,
    ``seconds`` how long it lasts (from now); ``path`` a prefix unless ``exact``."""

    kind: str
    count: int | None = None
    fraction: float = 1.0
    status: int = 500
    retry_after: float = 1.0
    delay: float = 0.0
    path: str | None = None
    method: str | None = None
    exact: bool = False
    seconds: float | None = None
    requests: int = 1
    message: str | None = None
    fired: int = 0
    id: int = field(default=0)
    until: float | None = None  # the faults' clock time at which a ``seconds`` rule ends

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        if self.kind == "read_outage":  # GETs naming a batch or file id
            parts = path.split("/")
            return len(parts) >= 4 and parts[2] in ("batches", "files") and method == "GET"
        if self.exact:
            return path == self.path
        return not self.path or path.startswith(self.path)

    def spent(self, now: float) -> bool:
        if self.until is not None and now >= self.until:
            return True
        return self.count is not None and self.fired >= self.count


class Faults:
    """Rules are tried in order; the first that matches and wins its coin toss fires."""

    def __init__(self, seed: int | None = None, now: Callable[[], float] = time.time) -> None:
        """``now``: the clock ``seconds`` rules are timed on (the server's, so tests can move
        it)."""
        self._now = now
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._next_id = 1
        self.fired = 0

    def inject(
        self, kind: str, count: int | None = None, fraction: float | None = None, **options: object
    ) -> Rule:
        """Add a rule: for the next ``count`` requests, or a ``fraction`` of them.

        Options: ``status`` (500/503 for server_error), ``retry_after`` (seconds, 429/503),
        ``delay`` (seconds, slow), ``path`` (prefix such as ``/v1/batches``), ``method``.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}; choose from {KINDS}")
        if count is None and fraction is None and options.get("seconds") is None:
            count = 1
        options.pop("until", None)
        rule = Rule(
            kind=kind, count=count, fraction=1.0 if fraction is None else float(fraction), **options
        )  # type: ignore[arg-type]
        if rule.seconds is not None:
            rule.until = self._now() + float(rule.seconds)
        rule.status = {"rate_limit": 429, "payment_required": 402, "read_outage": 404}.get(
            kind, rule.status
        )
        with self._lock:
            rule.id = self._next_id
            self._next_id += 1
            self._rules.append(rule)
        return rule

    def rate_limit(
        self,
        count: int | None = None,
        fraction: float | None = None,
        retry_after: float = 1.0,
        **options: object,
    ) -> Rule:
        return self.inject("rate_limit", count, fraction, retry_after=retry_after, **options)

    def server_error(
        self,
        status: int = 500,
        count: int | None = None,
        fraction: float | None = None,
        retry_after: float = 1.0,
        **options: object,
    ) -> Rule:
        return self.inject(
            "server_error", count, fraction, status=status, retry_after=retry_after, **options
        )

    def drop_connection(
        self, count: int | None = None, fraction: float | None = None, **options: object
    ) -> Rule:
        return self.inject("drop_connection", count, fraction, **options)

    def slow(
        self,
        delay: float,
        count: int | None = None,
        fraction: float | None = None,
        **options: object,
    ) -> Rule:
        return self.inject("slow", count, fraction, delay=delay, **options)

    def capacity(
        self, seconds: float | None = None, count: int | None = None, window: str = "24h"
    ) -> Rule:
        """Batch create refused as Doubleword does when a window has no capacity: 429 with
        ``Retry-After: 60``; it may last far longer than a minute."""
        message = (
            f"Insufficient capacity for {window} completion window. The following models are "
            "currently at capacity: mock. Try again later or use a longer completion window."
        )
        return self.inject(
            "rate_limit", count, None, seconds=seconds, retry_after=60, message=message,
            path="/v1/batches", method="POST", exact=True,
        )  # fmt: skip

    def payment_required(
        self,
        count: int | None = None,
        seconds: float | None = None,
        spend_cap: bool = False,
        **options: object,
    ) -> Rule:
        """402 on batch create (balance below zero; ``spend_cap=True``: a key's cap reached)."""
        options.setdefault("message", SPEND_CAP if spend_cap else LOW_BALANCE)
        options.setdefault("path", "/v1/batches")
        options.setdefault("method", "POST")
        options.setdefault("exact", True)
        return self.inject("payment_required", count, None, seconds=seconds, **options)

    def read_outage(self, seconds: float | None = None, count: int | None = None) -> Rule:
        """A read-path outage: GETs of batch and file ids answer 404 (ids the server knows
        too) while creates still work, as Doubleword maps any storage error to 404."""
        return self.inject("read_outage", count, None, seconds=seconds)

    def late_completion(self, requests: int = 1, delay: float = 0.5, count: int = 1) -> Rule:
        """At the next ``count`` Doubleword cancels of a running batch, ``requests`` pending
        requests stay in flight and complete ``delay`` seconds (server clock: tests may
        advance it) after the batch reads ``cancelled``: written to the output, billed."""
        return self.inject("late_completion", count, None, requests=requests, delay=delay)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[dict]:
        """The rules still in force."""
        now = self._now()
        with self._lock:
            return [asdict(r) for r in self._rules if not r.spent(now)]

    def take(self, method: str, path: str, kinds: tuple[str, ...] = HTTP_KINDS) -> Rule | None:
        """The fault of one of ``kinds`` to apply to this request, if any (counts it as fired)."""
        now = self._now()
        with self._lock:
            for rule in self._rules:
                if rule.kind not in kinds or rule.spent(now) or not rule.matches(method, path):
                    continue
                if rule.fraction < 1.0 and self._random.random() >= rule.fraction:
                    continue
                rule.fired += 1
                self.fired += 1
                self._rules = [r for r in self._rules if not r.spent(now)]
                return rule
        return None
