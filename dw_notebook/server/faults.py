"""Fault switchboard: make the API misbehave on purpose, for reliability tests.

>>> faults = Faults()
>>> rule = faults.rate_limit(count=2, retry_after=3)   # next two API requests answer 429
>>> faults.server_error(status=503, fraction=0.5)      # half of them answer 503
>>> faults.drop_connection(count=1)                    # cut the connection mid-body
>>> faults.slow(delay=2.0, count=1)                    # answer after two seconds
>>> faults.clear()
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field

KINDS = ("rate_limit", "server_error", "drop_connection", "slow")


@dataclass
class Rule:
    """One injected fault; ``count`` None is unlimited, ``fraction`` the chance per request."""

    kind: str
    count: int | None = None
    fraction: float = 1.0
    status: int = 500
    retry_after: float = 1.0
    delay: float = 0.0
    path: str | None = None
    method: str | None = None
    fired: int = 0
    id: int = field(default=0)

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return not self.path or path.startswith(self.path)

    def spent(self) -> bool:
        return self.count is not None and self.fired >= self.count


class Faults:
    """Rules are tried in order; the first that matches and wins its coin toss fires."""

    def __init__(self, seed: int | None = None) -> None:
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
        if count is None and fraction is None:
            count = 1
        rule = Rule(
            kind=kind, count=count, fraction=1.0 if fraction is None else float(fraction), **options
        )  # type: ignore[arg-type]
        if kind == "rate_limit":
            rule.status = 429
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

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[dict]:
        with self._lock:
            return [asdict(r) for r in self._rules]

    def take(self, method: str, path: str) -> Rule | None:
        """The fault to apply to this request, if any (counts it as fired)."""
        with self._lock:
            for rule in self._rules:
                if rule.spent() or not rule.matches(method, path):
                    continue
                if rule.fraction < 1.0 and self._random.random() >= rule.fraction:
                    continue
                rule.fired += 1
                self.fired += 1
                self._rules = [r for r in self._rules if not r.spent()]
                return rule
        return None
