"""The invocation log: one record per attempt (and per throttled request) and the counters per function, behind a
lock of their own."""

import threading
import time
from typing import Any, Dict, List

from sosw.local._pool import Outcome
from sosw.local.constants import COUNTERS

Record = Dict[str, Any]


class InvocationLog:
    """What :attr:`LocalLambdaService.invocations` and :attr:`LocalLambdaService.stats` show."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: List[Record] = []
        self._stats: Dict[str, Dict[str, int]] = {}

    def add_function(self, name: str) -> None:
        """Start counting for ``name``; counters of an earlier registration under the name go on."""
        with self._lock:
            self._stats.setdefault(name, dict.fromkeys(COUNTERS, 0))

    def count(self, name: str, counter: str) -> None:
        """Add one to a counter of :data:`~sosw.local.constants.COUNTERS`."""
        with self._lock:
            self._stats[name][counter] += 1

    def start(self, name: str, invocation_type: str, request_id: str, payload: Any, attempt: int) -> Record:
        """Record an attempt that starts now, and count it as invoked."""
        record = self._record(name, invocation_type, request_id, payload, attempt, "running")
        with self._lock:
            self._records.append(record)
            self._stats[name]["invoked"] += 1
        return record

    def finish(self, name: str, record: Record, outcome: Outcome, duration: float) -> None:
        """Complete the record of an attempt with how it ended, and count that."""
        with self._lock:
            record.update(status=outcome.status, result=outcome.result, error=outcome.error, duration=duration)
            self._stats[name][outcome.status] += 1

    def throttled(self, name: str, invocation_type: str, request_id: str, payload: Any) -> None:
        """Record and count a request answered 429."""
        with self._lock:
            self._records.append(self._record(name, invocation_type, request_id, payload, 1, "throttled"))
            self._stats[name]["throttled"] += 1

    @property
    def stats(self) -> Dict[str, Dict[str, int]]:
        """Counters per function name, a snapshot."""
        with self._lock:
            return {name: dict(counters) for name, counters in self._stats.items()}

    @property
    def records(self) -> List[Record]:
        """The records, oldest first, a snapshot."""
        with self._lock:
            return [dict(record) for record in self._records]

    @staticmethod
    def _record(name: str, invocation_type: str, request_id: str, payload: Any, attempt: int, status: str) -> Record:
        return {
            "function": name,
            "type": invocation_type,
            "request_id": request_id,
            "payload": payload,
            "attempt": attempt,
            "status": status,
            "result": None,
            "error": None,
            "started_at": time.time(),
            "duration": None,
        }
