"""Protocol suite: the algorithm lock (state saved or discarded, timeouts, leases, forced release)."""

from __future__ import annotations

import datetime as _dt
import time
from typing import Any

import pytest

from docstore.documents import now
from docstore.errors import DuplicateKeyError, FailedUpdate, LockAcquisitionTimeout
from docstore.storage import Experiment, Storage, UnknownExperiment
from docstore.testing.protocol_support import T0, make_experiment

__all__ = ["AlgorithmLockSuite"]


def _hold_lock(storage: Storage, uid: str, **kwargs: Any) -> Any:
    manager = storage.acquire_algorithm_lock(uid=uid, **kwargs)
    manager.__enter__()
    return manager


class AlgorithmLockSuite:
    def test_state_saved_on_exit_and_bytes_round_trip(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        with storage.acquire_algorithm_lock(Experiment(exp), timeout=1) as locked:
            assert (locked.state, locked.configuration, locked.locked) == (None, {"random": {"seed": 1}}, True)
            locked.set_state({"rng": b"\x00\xff" * 8, "seen": [0.5]})
        info = storage.get_algorithm_lock_info(uid=exp["_id"])
        assert info is not None
        assert not info.locked
        assert info.owner is None
        assert info.state == {"rng": b"\x00\xff" * 8, "seen": [0.5]}
        raw = storage.db["algo"].find_one({"experiment": exp["_id"]}, ["state"])
        assert raw is not None
        assert isinstance(raw["state"], bytes)

    def test_state_discarded_on_exception_and_lock_released(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        with storage.acquire_algorithm_lock(uid=exp["_id"]) as locked:
            locked.set_state("kept")

        def fail_under_the_lock() -> None:
            with storage.acquire_algorithm_lock(uid=exp["_id"]) as locked:
                locked.set_state("lost")
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            fail_under_the_lock()
        with storage.acquire_algorithm_lock(uid=exp["_id"], timeout=0) as locked:
            assert locked.state == "kept"

    def test_timeout_while_held(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        with storage.acquire_algorithm_lock(uid=exp["_id"]) as held:
            started = time.monotonic()
            with (
                pytest.raises(LockAcquisitionTimeout) as caught,
                storage.acquire_algorithm_lock(uid=exp["_id"], timeout=0.2, retry_interval=0.05),
            ):
                pass
            assert time.monotonic() - started >= 0.2
            assert isinstance(caught.value, TimeoutError)
            assert caught.value.timeout == 0.2
            assert str(held.owner) in str(caught.value)

    def test_lease_is_renewed_while_held(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        with storage.acquire_algorithm_lock(uid=exp["_id"], lease=0.3) as locked:
            time.sleep(1.0)  # more than three leases
            with pytest.raises(LockAcquisitionTimeout):
                _hold_lock(storage, exp["_id"], timeout=0)
            locked.set_state(1)
            info = storage.get_algorithm_lock_info(uid=exp["_id"])
            assert info is not None
            assert info.lease_until is not None
            assert info.lease_until > now()
        assert storage.get_algorithm_lock_info(uid=exp["_id"]).state == 1  # type: ignore[union-attr]

    def test_expired_lease_is_taken_over(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        past = now() - _dt.timedelta(seconds=1)
        storage.db["algo"].update_one(
            {"experiment": exp["_id"]},  # a holder that died
            {"$set": {"locked": 1, "owner": "dead", "lease_until": past}},
        )
        with storage.acquire_algorithm_lock(uid=exp["_id"], timeout=0) as locked:
            assert locked.owner != "dead"

    def test_holder_whose_lock_was_taken_cannot_save(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        manager = storage.acquire_algorithm_lock(uid=exp["_id"])
        first = manager.__enter__()
        first.set_state("stale")
        assert storage.release_algorithm_lock(uid=exp["_id"]) is True  # forced, as Orion's is
        with storage.acquire_algorithm_lock(uid=exp["_id"], timeout=0) as second:
            second.set_state("fresh")
        with pytest.raises(FailedUpdate) as caught:
            manager.__exit__(None, None, None)
        assert caught.value.expected == first.owner
        assert storage.get_algorithm_lock_info(uid=exp["_id"]).state == "fresh"  # type: ignore[union-attr]

    def test_forced_release_info_and_delete(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        assert storage.release_algorithm_lock(uid=exp["_id"]) is False
        manager = _hold_lock(storage, exp["_id"], lease=0.3)
        assert storage.release_algorithm_lock(uid=exp["_id"], new_state={"a": 1}) is True
        with pytest.raises(FailedUpdate):
            manager.__exit__(None, None, None)
        assert storage.get_algorithm_lock_info(uid=exp["_id"]).state == {"a": 1}  # type: ignore[union-attr]
        assert storage.delete_algorithm_lock(uid=exp["_id"]) == 1
        assert storage.get_algorithm_lock_info(uid=exp["_id"]) is None
        with pytest.raises(LockAcquisitionTimeout, match="no algorithm lock"):
            _hold_lock(storage, exp["_id"], timeout=0)
        assert storage.initialize_algorithm_lock(exp["_id"], {"grid": {}})
        with pytest.raises(DuplicateKeyError):
            storage.initialize_algorithm_lock(exp["_id"], {"grid": {}})

    def test_lock_without_a_lease_never_expires(self, storage: Storage) -> None:
        exp = storage.create_experiment({"name": "o", "version": 1}, algo_locked=1, algo_heartbeat=T0)
        with pytest.raises(LockAcquisitionTimeout, match="without a lease"):
            _hold_lock(storage, exp["_id"], timeout=0)

    def test_unknown_experiment(self, storage: Storage) -> None:
        with pytest.raises(UnknownExperiment):
            _hold_lock(storage, "nope", timeout=5)
        with pytest.raises(LockAcquisitionTimeout):
            _hold_lock(Storage(storage.db, strict=False), "nope", timeout=0)
