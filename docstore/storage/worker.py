"""``run_worker``: a worker's whole loop in one call, over the storage protocol only.

::

    with docstore.setup_storage("study.json") as storage:
        experiment = storage.get_or_create_experiment({"name": "lr-search", "space": {...}})
        report = docstore.run_worker(storage, experiment, train)  # train(lr=...) -> the objective

Each round: put back the trials of dead workers (``reserved`` with a stale heartbeat
become ``interrupted``, at most once per heartbeat period), reserve the oldest pending
trial, call the function with its params while a background thread beats the trial's
heartbeat every ``storage.heartbeat`` seconds, then push the results and complete it.
The function's exception makes the trial ``broken`` with the error recorded in the
trial's ``error`` field; Ctrl-C (or any ``BaseException`` that is not an ``Exception``)
makes it ``interrupted``, so another worker runs it again, and is raised on. A trial
taken from this worker meanwhile (declared lost and reserved by another one) is left to
its new holder: the compare-and-set updates fail and the worker goes on.
"""

from __future__ import annotations

import logging
import numbers
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from docstore.errors import DocstoreError, FailedUpdate
from docstore.storage._base import experiment_uid
from docstore.storage.documents import Trial
from docstore.storage.errors import TooManyBroken
from docstore.storage.protocol import Storage

__all__ = ["DEFAULT_MAX_BROKEN", "Pacemaker", "WorkerReport", "release_lost_trials", "run_worker"]

_LOG = logging.getLogger(__name__)

DEFAULT_MAX_BROKEN = 3
"""Broken trials after which workers stop, when the experiment sets no ``max_broken`` (Orion's default)."""

_MESSAGE_CHARS, _TRACEBACK_CHARS = 2_000, 10_000


@dataclass
class WorkerReport:
    """What one :func:`run_worker` call did."""

    completed: int = 0
    broken: int = 0
    lost: int = 0
    """Trials taken from this worker before it could report them (declared lost and run by another)."""
    recovered: int = 0
    """Trials of dead workers this worker found lost and put back (``interrupted``)."""
    stopped: str = ""
    """Why the loop ended: ``"no pending trial"``, ``"max_trials"`` or ``"stop"``."""

    @property
    def reserved(self) -> int:
        return self.completed + self.broken + self.lost


class Pacemaker:
    """A daemon thread that beats the heartbeat of the trial its worker holds, every ``interval`` seconds.

    The first beat comes ``interval`` seconds after :meth:`hold` (``reserve_trial`` has
    just set the heartbeat). A beat that fails with :class:`FailedUpdate` means the
    trial was taken from the worker: :meth:`release` then returns True. A beat that
    fails otherwise (a server briefly unreachable) is logged and tried again next period.
    """

    def __init__(self, storage: Storage, interval: float) -> None:
        self._storage = storage
        self._interval = float(interval)
        self._cond = threading.Condition()  # held during a beat, so hold/release never race one
        self._trial: Trial | None = None
        self._due = 0.0
        self._lost = False
        self._closed = False
        self.beats = 0
        self._thread = threading.Thread(target=self._run, name="docstore-heartbeat", daemon=True)
        self._thread.start()

    def hold(self, trial: Trial) -> None:
        with self._cond:
            self._trial = Trial(trial.to_dict())  # its own copy: the worker may change the caller's
            self._lost = False
            self._due = time.monotonic() + self._interval
            self._cond.notify()

    def release(self) -> bool:
        """Stop beating; True if the trial was found taken from this worker meanwhile."""
        with self._cond:
            self._trial = None
            self._cond.notify()
            return self._lost

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._trial = None
            self._cond.notify()
        self._thread.join()

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                if self._trial is None:
                    self._cond.wait()
                    continue
                delay = self._due - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                self._beat(self._trial)
                self._due = time.monotonic() + self._interval

    def _beat(self, trial: Trial) -> None:
        try:
            self._storage.update_heartbeat(trial)
            self.beats += 1
        except FailedUpdate:
            self._lost, self._trial = True, None
        except (DocstoreError, OSError) as exc:
            _LOG.warning("heartbeat of trial %s failed, will retry: %s", trial.id, exc)


def release_lost_trials(storage: Storage, experiment: Any, timeout: float | None = None) -> int:
    """Set the experiment's lost trials (reserved, heartbeat older than ``timeout``) to ``interrupted``.

    ``timeout`` defaults to :meth:`fetch_lost_trials`'s, five heartbeat periods. Returns
    how many this call put back; one that another worker put back first is not counted.
    """
    released = 0
    for trial in storage.fetch_lost_trials(experiment, timeout):
        try:
            storage.set_trial_status(trial, "interrupted", was="reserved")
        except FailedUpdate:
            continue  # its worker beat at last, or another worker released it first
        released += 1
        _LOG.info("trial %s (worker %s) was lost: set to interrupted", trial.id, trial.worker)
    return released


def _objective_results(value: Any) -> list[dict[str, Any]]:
    """What the user's function returned, as trial results with one ``objective``."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return [{"name": "objective", "type": "objective", "value": float(value)}]
    if isinstance(value, (Mapping, list, tuple)):
        results = Trial(results=value).results  # validates names and types
        if results.of_type("objective"):
            return results.to_list()
    raise TypeError(
        f"the function returned {value!r:.200}: return the objective (a number), a dict with an 'objective' key, "
        "or a list of {name, type, value} results with one of type 'objective'"
    )


def _error_of(exc: BaseException) -> dict[str, str]:
    text = "".join(traceback.format_exception(exc))
    return {
        "type": type(exc).__qualname__,
        "message": str(exc)[:_MESSAGE_CHARS],
        "traceback": text[-_TRACEBACK_CHARS:],
    }


def _break(storage: Storage, trial: Trial, exc: BaseException) -> str:
    """Record the error in the trial and set it broken, if this worker still holds it."""
    held = {"status": "reserved", "start_time": trial.start_time}
    try:
        if not storage.update_trial(trial, where=held, error=_error_of(exc)):
            return "lost"
        storage.set_trial_status(trial, "broken", was="reserved")
    except FailedUpdate:
        return "lost"
    _LOG.warning("trial %s broken: %s: %s", trial.id, type(exc).__name__, exc)
    return "broken"


def _interrupt(storage: Storage, trial: Trial) -> None:
    try:
        storage.set_trial_status(trial, "interrupted", was="reserved")
    except FailedUpdate:
        pass  # completed, or taken from us, already
    except (DocstoreError, OSError) as exc:  # it stays reserved, and is found lost later
        _LOG.warning("could not set trial %s to interrupted: %s", trial.id, exc)


def _run_trial(
    storage: Storage,
    trial: Trial,
    call: Callable[[Trial], Any],
    pacemaker: Pacemaker,
) -> tuple[str, BaseException | None]:
    """Run one reserved trial to its end: ``("completed" | "broken" | "lost", the function's exception)``."""
    pacemaker.hold(trial)
    try:
        try:
            results = _objective_results(call(trial))
        except Exception as exc:
            if pacemaker.release():
                return "lost", exc
            return _break(storage, trial, exc), exc
        if pacemaker.release():
            return "lost", None
        trial.results = results
        try:
            storage.push_trial_results(trial)
            storage.set_trial_status(trial, "completed", was="reserved")
        except FailedUpdate:
            return "lost", None
        return "completed", None
    except BaseException:  # Ctrl-C, SystemExit: the trial goes back to be run again
        pacemaker.release()
        _interrupt(storage, trial)
        raise


def _stop_requested(stop: Any) -> bool:
    if stop is None:
        return False
    is_set = getattr(stop, "is_set", None)
    return bool(is_set() if callable(is_set) else stop())


def _broken_limit(storage: Storage, experiment: Any, uid: Any, given: int | None) -> int:
    if given is not None:
        return given
    document = experiment if isinstance(experiment, Mapping) else None
    if document is None or "max_broken" not in document:
        found = storage.fetch_experiments({"_id": uid}, {"max_broken": 1})
        document = found[0] if found else {}
    limit = document.get("max_broken")
    return limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else DEFAULT_MAX_BROKEN


def run_worker(
    storage: Storage,
    experiment: Any,
    function: Callable[..., Any],
    *,
    max_trials: int | None = None,
    max_broken: int | None = None,
    stop: Any = None,
    pass_trial: bool = False,
    on_hold: Callable[[Trial | None], None] | None = None,
) -> WorkerReport:
    """Reserve, run and report the experiment's trials until none is pending; returns a :class:`WorkerReport`.

    ``function(**params)`` (or ``function(trial)`` with ``pass_trial=True``) returns the
    objective: a number, a dict with an ``"objective"`` key (other keys are kept as
    statistics), or a list of ``{name, type, value}`` results. ``max_trials``: at most
    this many trials for this worker. ``max_broken``: raise :class:`TooManyBroken` once
    the experiment has that many broken trials (default: its ``max_broken``, else 3).
    ``stop``: an Event (or a function returning a bool) checked before each reservation.
    ``on_hold(trial)`` is told which trial the worker holds, and ``on_hold(None)`` once
    it is settled. Ctrl-C sets the trial held to ``interrupted`` and is raised on.
    """
    store = storage
    uid = experiment_uid(experiment)
    limit = _broken_limit(store, experiment, uid, max_broken)
    call: Callable[[Trial], Any] = function if pass_trial else (lambda trial: function(**trial.params))
    report = WorkerReport()
    pacemaker = Pacemaker(store, store.heartbeat)
    next_recovery = 0.0
    try:
        while True:
            if _stop_requested(stop):
                report.stopped = "stop"
                break
            if max_trials is not None and report.reserved >= max_trials:
                report.stopped = "max_trials"
                break
            if time.monotonic() >= next_recovery:
                report.recovered += release_lost_trials(store, uid)
                next_recovery = time.monotonic() + store.heartbeat
            trial = store.reserve_trial(uid)
            if trial is None:
                report.stopped = "no pending trial"
                break
            if on_hold is not None:
                on_hold(trial)
            try:
                outcome, error = _run_trial(store, trial, call, pacemaker)
            finally:
                if on_hold is not None:
                    on_hold(None)
            setattr(report, outcome, getattr(report, outcome) + 1)
            if outcome == "broken":
                broken = store.count_broken_trials(uid)
                if broken >= limit:
                    raise TooManyBroken(
                        f"experiment {uid!r} has {broken} broken trials (max_broken={limit}); the last one raised "
                        f"{type(error).__name__}: {error}",
                        broken=broken,
                        max_broken=limit,
                    ) from error
    finally:
        pacemaker.close()
    return report
