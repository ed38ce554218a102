"""The demo's workers: :func:`docstore.run_worker` on Branin, until no trial is pending.

Each worker is the loop every user gets from ``docstore.run_worker`` (reserve, run, report,
with a heartbeat thread); the function it runs is Branin plus a sleep standing for the cost
of training. A pool runs them as real processes (each opens the store itself, the way
separate machines would) or, for in-process engines (``memory://``, ``mongomock://``), as
threads sharing the parent's store. Either way the parent can stop them: the simulated
training raises :class:`StopRequested`, and ``run_worker`` sets the trial to ``interrupted``
(``was="reserved"``); the parent also sees which trial each worker holds, so a worker that
had to be killed leaves nothing stuck in ``reserved``.
"""

from __future__ import annotations

import math
import multiprocessing
import multiprocessing.context
import os
import random
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from docstore.storage import Storage, Trial, run_worker, setup_storage
from docstore.uri import redact

__all__ = ["BRANIN_DOMAIN", "BRANIN_MINIMUM", "ProcessPool", "ThreadPool", "WorkerSpec", "branin", "run_demo_worker"]

BRANIN_DOMAIN = {"x1": (-5.0, 10.0), "x2": (0.0, 15.0)}
BRANIN_MINIMUM = 0.397887  # at (-pi, 12.275), (pi, 2.275) and (9.42478, 2.475)


def branin(x1: float, x2: float) -> float:
    """The Branin-Hoo function, the usual benchmark of hyperparameter search."""
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs: where the store is, which experiment, how long a trial 'costs'."""

    uri: str
    experiment_id: str
    heartbeat: float
    min_cost: float = 0.010
    max_cost: float = 0.020


class StopFlag(Protocol):
    def is_set(self) -> bool: ...


class Holding(Protocol):
    """Where a worker says which trial it holds (``""`` for none)."""

    def hold(self, uid: str) -> None: ...


class StopRequested(BaseException):
    """Raised inside a trial when the parent asks the workers to stop: ``run_worker`` sets it interrupted.

    A ``BaseException``, like the ``KeyboardInterrupt`` it stands for in a worker that ignores SIGINT.
    """


def _pause(seconds: float, stop: StopFlag) -> None:
    """Sleep ``seconds`` (the simulated training), or raise StopRequested as soon as ``stop`` is set."""
    deadline = time.monotonic() + seconds
    while True:
        if stop.is_set():
            raise StopRequested
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.05))


def run_demo_worker(storage: Storage, spec: WorkerSpec, stop: StopFlag, holding: Holding, rng: random.Random) -> int:
    """Run Branin trials with :func:`docstore.run_worker` until none is pending or ``stop`` is set.

    Returns how many trials this worker completed.
    """

    def evaluate(x1: float, x2: float) -> float:
        _pause(rng.uniform(spec.min_cost, spec.max_cost), stop)  # the simulated cost of a training run
        return branin(float(x1), float(x2))

    def on_hold(trial: Trial | None) -> None:
        holding.hold("" if trial is None else trial.id)

    try:
        return run_worker(storage, spec.experiment_id, evaluate, stop=stop, on_hold=on_hold).completed
    except StopRequested:
        return 0  # the trial in flight is interrupted; what this worker completed is in the store


def _describe(exc: BaseException, uri: str) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text.replace(uri, redact(uri))


# ---------------------------------------------------------------- processes


class _SharedHolding:
    def __init__(self, array: Any) -> None:
        self.array = array

    def hold(self, uid: str) -> None:
        self.array.value = uid.encode()


def _process_main(spec: WorkerSpec, stop: Any, array: Any, errors: Any, parent_pid: int) -> None:
    # Ctrl-C in a terminal reaches the whole process group: the parent alone decides, and tells us by `stop`.
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # already so from birth (see ProcessPool.start); kept explicit

    class _Stop:
        def is_set(self) -> bool:  # also stop when the parent died (kill -9): nobody would watch us
            return bool(stop.is_set()) or os.getppid() != parent_pid

    try:
        with setup_storage(spec.uri, heartbeat=spec.heartbeat) as storage:
            run_demo_worker(storage, spec, _Stop(), _SharedHolding(array), random.Random())
    except Exception as exc:  # reported to the parent, which prints it
        errors.put(_describe(exc, spec.uri))
        raise SystemExit(1) from None


class ProcessPool:
    """``n`` worker processes, started with ``spawn`` (no state copied from the parent's store)."""

    kind = "processes"

    def __init__(self, spec: WorkerSpec, n: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._errors = context.SimpleQueue()
        self._arrays = [context.Array("c", 256) for _ in range(n)]
        self._processes = [
            context.Process(
                target=_process_main,
                args=(spec, self._stop, array, self._errors, os.getpid()),
                name=f"docstore-demo-worker-{i}",
                daemon=True,
            )
            for i, array in enumerate(self._arrays)
        ]

    def start(self) -> None:
        # Children are born ignoring SIGINT (an ignored signal stays ignored across exec), so a
        # Ctrl-C while they import does not print their tracebacks: only the parent decides.
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main else None
        try:
            for process in self._processes:
                process.start()
        finally:
            if in_main:
                signal.signal(signal.SIGINT, previous)

    def alive(self) -> bool:
        return any(p.is_alive() for p in self._processes)

    def stop(self, timeout: float = 5.0) -> None:
        """Ask every worker to stop, wait for them, kill the ones that do not."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for process in self._processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in self._processes:
            if process.is_alive():
                process.kill()
                process.join()

    def join(self) -> None:
        for process in self._processes:
            process.join()

    def held(self) -> list[str]:
        """Trials that workers still hold (a worker killed mid-trial leaves its uid here)."""
        values = [bytes(a.value) for a in self._arrays]  # type: ignore[attr-defined]  # a char array has .value
        return [v.decode() for v in values if v]

    def errors(self) -> list[str]:
        found = []
        while not self._errors.empty():
            found.append(str(self._errors.get()))
        return found


# ---------------------------------------------------------------- threads


class _LocalHolding:
    def __init__(self) -> None:
        self.uid = ""

    def hold(self, uid: str) -> None:
        self.uid = uid


class ThreadPool:
    """``n`` worker threads sharing one store: for engines that live inside this process."""

    kind = "threads"

    def __init__(self, storage: Storage, spec: WorkerSpec, n: int) -> None:
        self._storage = storage
        self._spec = spec
        self._stop = threading.Event()
        self._holdings = [_LocalHolding() for _ in range(n)]
        self._errors: list[str] = []
        self._threads = [
            threading.Thread(target=self._main, args=(holding,), name=f"docstore-demo-worker-{i}", daemon=True)
            for i, holding in enumerate(self._holdings)
        ]

    def _main(self, holding: _LocalHolding) -> None:
        try:
            run_demo_worker(self._storage, self._spec, self._stop, holding, random.Random())
        except Exception as exc:  # reported by the parent
            self._errors.append(_describe(exc, self._spec.uri))

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def alive(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def join(self) -> None:
        for thread in self._threads:
            thread.join()

    def held(self) -> list[str]:
        return [h.uid for h in self._holdings if h.uid]

    def errors(self) -> list[str]:
        return list(self._errors)
