"""A single-flight, newest-first, cancellable queue of computations on one thread.

It knows keys and a compute callable, nothing about tiles or rasters: a caller asks for keys
(:meth:`Scheduler.submit`) and gets a :class:`Ticket` whose future resolves once every key is in
the cache. A key is computed once however many tickets wait for it; the newest ticket's keys are
computed first; a key whose every ticket has been released before its computation started is
dropped.
"""

from __future__ import annotations

import concurrent.futures as cf
import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ..inference.units import UnitCache

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class _Pending(Generic[V]):
    future: cf.Future[V]
    interest: int = 0
    started: bool = False


@dataclass(order=True)
class _Job(Generic[K]):
    priority: int  # minus the ticket's sequence number: the newest comes first
    keys: list[K] = field(compare=False)


class Ticket(Generic[K]):
    """Keys asked for together; :attr:`future` resolves (to ``None``) once all are cached, or to the first error.

    Attributes:
        future: done when every key is available.
        keys: the keys this ticket waits for (those not cached when it was made).
    """

    def __init__(self) -> None:
        self.future: cf.Future[None] = cf.Future()
        self.keys: list[K] = []
        self.released = False


class Scheduler(Generic[K, V]):
    """Computes missing keys on one thread, newest ticket first, each key once.

    Args:
        cache: where computed values go (and are looked up).
        compute: computes one group of keys, returning a value for each.
        groups: splits keys into the groups ``compute`` takes (e.g. row runs).
        on_error: turns a failure of ``compute`` into the error its tickets see.
        name: the worker thread's name.
    """

    def __init__(self, cache: UnitCache[K, V], compute: Callable[[list[K]], Mapping[K, V]],
                 groups: Callable[[Iterable[K]], list[list[K]]], *,
                 on_error: Callable[[Exception], Exception] = lambda e: e, name: str = "lc-infer") -> None:
        self.cache = cache
        self._compute, self._groups, self._on_error = compute, groups, on_error
        self._cond = threading.Condition()
        self._pending: dict[K, _Pending[V]] = {}
        self._jobs: list[_Job[K]] = []
        self._seq = itertools.count()
        self._closed = False
        self.computed = self.hits = self.misses = self.dropped = 0
        self._worker = threading.Thread(target=self._work, name=name, daemon=True)
        self._worker.start()

    def submit(self, keys: Iterable[K]) -> Ticket[K]:
        """Ask for ``keys``; returns at once with a ticket (already done when every key is cached).

        Args:
            keys: the keys wanted.
        """
        ticket: Ticket[K] = Ticket()
        futures: list[cf.Future[V]] = []
        with self._cond:
            hits = 0
            for key in keys:
                if self.cache.get(key) is not None:
                    hits += 1
                    continue
                pending = self._pending.get(key)
                if pending is None:
                    pending = self._pending[key] = _Pending(cf.Future())
                pending.interest += 1
                ticket.keys.append(key)
                futures.append(pending.future)
            self.hits += hits
            self.misses += len(futures)
            if ticket.keys:
                heapq.heappush(self._jobs, _Job(-next(self._seq), list(ticket.keys)))
                self._cond.notify()
        if not futures:
            ticket.future.set_result(None)
            return ticket
        remaining = [len(futures)]
        lock = threading.Lock()

        def one_done(f: cf.Future[V]) -> None:
            if f.cancelled() or ticket.future.done():
                return
            exc = f.exception()
            if exc is not None:
                _settle(ticket.future, exc)
                return
            with lock:
                remaining[0] -= 1
                last = remaining[0] == 0
            if last:
                _settle(ticket.future, None)

        for f in futures:
            f.add_done_callback(one_done)
        return ticket

    def release(self, ticket: Ticket[K]) -> None:
        """Give a ticket up: keys no other ticket waits for, and not yet started, are dropped.

        Args:
            ticket: from :meth:`submit`.
        """
        if ticket.released:
            return
        ticket.released = True
        with self._cond:
            for key in ticket.keys:
                pending = self._pending.get(key)
                if pending is None:
                    continue
                pending.interest -= 1
                if pending.interest <= 0 and not pending.started and not pending.future.done():
                    del self._pending[key]
                    pending.future.cancel()
                    self.dropped += 1

    def get(self, keys: Iterable[K], *, timeout: float | None = None) -> dict[K, V]:
        """The values of ``keys``, computed if needed; blocks.

        Args:
            keys: the keys wanted.
            timeout: seconds to wait.
        """
        wanted = list(dict.fromkeys(keys))
        ticket = self.submit(wanted)
        try:
            ticket.future.result(timeout)
        finally:
            self.release(ticket)
        return self.held(wanted)

    def held(self, keys: list[K]) -> dict[K, V]:
        """The values of ``keys`` from the cache, computing here any the cache dropped meanwhile.

        Args:
            keys: keys already computed once (a cache smaller than one view may have dropped some).
        """
        found = self.cache.get_many(keys)
        missing = [k for k in keys if k not in found]
        for group in self._groups(missing):
            found.update(self._compute(group))
        return found

    def queued(self) -> int:
        """Keys waiting to be computed."""
        with self._cond:
            return sum(1 for p in self._pending.values() if not p.future.done())

    def close(self) -> None:
        """Stop the worker thread (computations in progress finish)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = heapq.heappop(self._jobs)
            for group in self._groups(job.keys):
                with self._cond:
                    todo = [k for k in group if (p := self._pending.get(k)) is not None and p.interest > 0
                            and not p.started and not p.future.done()]
                    for k in todo:
                        self._pending[k].started = True
                if not todo:
                    continue
                try:
                    computed = self._compute(todo)
                except Exception as exc:  # a failure fails these keys' tickets, not the worker
                    error = self._on_error(exc)
                    log.warning("computing %d unit(s) failed: %s", len(todo), error)
                    with self._cond:
                        for k in todo:
                            p = self._pending.pop(k, None)
                            if p is not None:
                                p.future.set_exception(error)
                    continue
                with self._cond:
                    waiting = []
                    self.cache.put_many(computed)
                    for k, value in computed.items():
                        p = self._pending.pop(k, None)
                        if p is not None:
                            waiting.append((p.future, value))
                    self.computed += len(computed)
                for future, value in waiting:
                    future.set_result(value)


def _settle(future: cf.Future[None], exc: BaseException | None) -> None:
    try:
        if exc is None:
            future.set_result(None)
        else:
            future.set_exception(exc)
    except cf.InvalidStateError:  # cancelled or settled by another callback meanwhile
        pass
