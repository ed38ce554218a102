"""Small types over the stored documents, in Orion's layout and field names.

A :class:`Trial` wraps a trial document (``params`` and ``results`` are lists of
``{name, type, value}``) and gives dict-like access to them: ``trial.params["x"]``.
Its ``id`` is a hash of its params (plus its lie and parent), computed the way Orion
computes ``Trial.id``, so a trial has the same ``id`` whether Orion or docstore made it;
``_id`` is the store's own key, set when the trial is registered. An :class:`Experiment`
is a read-only mapping over an experiment document with named properties.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

from docstore.documents import copy_tree
from docstore.errors import InvalidDocument
from docstore.storage.status import validate_status

__all__ = ["PARAM_TYPES", "RESULT_TYPES", "TRIAL_FIELDS", "Experiment", "Trial", "Values", "trial_hash"]

PARAM_TYPES = ("integer", "real", "categorical", "fidelity")
RESULT_TYPES = ("objective", "constraint", "gradient", "statistic", "lie")
TRIAL_FIELDS = (
    "experiment",
    "status",
    "worker",
    "submit_time",
    "start_time",
    "end_time",
    "heartbeat",
    "params",
    "results",
    "parent",
    "exp_working_dir",
)
"""A trial document's fields besides ``_id`` and ``id``, in Orion's names."""


def trial_hash(params: list[dict[str, Any]], lie: Mapping[str, Any] | None = None, parent: Any = None) -> str:
    """The trial ``id``: an md5 of ``name:value`` pairs, the lie and the parent, as Orion builds it."""
    text = ",".join(f"{item['name']}:{item['value']}" for item in params)
    if lie is not None:
        text += f"{lie['name']}:{lie['value']}"
    if parent is not None:
        text += str(parent)
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _infer_param_type(value: Any) -> str:
    if isinstance(value, bool):
        return "categorical"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "real"
    return "categorical"


def _value_list(raw: Any, field: str, allowed: tuple[str, ...]) -> list[dict[str, Any]]:
    """``raw`` (a list of ``{name, type, value}``, a Values, or a name -> value mapping) checked."""
    if raw is None:
        return []
    if isinstance(raw, Values):
        return raw.to_list()
    if isinstance(raw, Mapping):
        if field == "params":
            items = [{"name": k, "type": _infer_param_type(v), "value": v} for k, v in raw.items()]
        else:
            items = [
                {"name": k, "type": "objective" if k == "objective" else "statistic", "value": v}
                for k, v in raw.items()
            ]
        raw = items
    if not isinstance(raw, (list, tuple)):
        raise InvalidDocument(
            f"trial {field} must be a list of {{name, type, value}}, not {type(raw).__name__}", path=field
        )
    out: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        where = f"{field}.{i}"
        if not isinstance(item, Mapping):
            raise InvalidDocument(f"trial {where} must be a {{name, type, value}} dict, not {item!r}", path=where)
        extra = set(item) - {"name", "type", "value"}
        if extra or not isinstance(item.get("name"), str):
            raise InvalidDocument(
                f"trial {where} must have a string name and only name, type, value: {item!r}", path=where
            )
        kind = item.get("type")
        if kind is not None and kind not in allowed:
            raise InvalidDocument(f"trial {where} has type {kind!r}, not one of {allowed}", path=f"{where}.type")
        out.append({"name": item["name"], "type": kind, "value": copy_tree(item.get("value"))})
    names = [item["name"] for item in out]
    if len(set(names)) != len(names):
        raise InvalidDocument(f"trial {field} repeat a name: {names}", path=field)
    return out


class Values(Mapping[str, Any]):
    """A read-only ``name -> value`` view of a trial's params or results (Orion's list layout)."""

    __slots__ = ("_items",)

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self._items = items

    def __getitem__(self, name: str) -> Any:
        for item in self._items:
            if item["name"] == name:
                return item["value"]
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return (item["name"] for item in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def type_of(self, name: str) -> str | None:
        """The ``type`` stored with ``name`` (``"real"``, ``"objective"``, ...)."""
        for item in self._items:
            if item["name"] == name:
                return item["type"]  # type: ignore[no-any-return]
        raise KeyError(name)

    def of_type(self, kind: str) -> dict[str, Any]:
        """The ``name -> value`` pairs whose type is ``kind``."""
        return {item["name"]: item["value"] for item in self._items if item["type"] == kind}

    def to_list(self) -> list[dict[str, Any]]:
        """A copy in the stored layout: ``[{name, type, value}, ...]``."""
        return copy_tree(self._items)

    def __repr__(self) -> str:
        return f"Values({dict(self)!r})"


class _Field:
    """A plain trial field, read and written in the trial's document."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, trial: Trial | None, owner: type) -> Any:
        if trial is None:
            return self
        return trial._doc.get(self.name)

    def __set__(self, trial: Trial, value: Any) -> None:
        trial._doc[self.name] = value


class Trial:
    """A trial document: ``Trial(experiment=eid, params={"x": 1.0})`` or ``Trial(document)``.

    ``params`` and ``results`` read as mappings (``trial.params["x"]``) and accept a list
    of ``{name, type, value}`` or a ``name -> value`` mapping when set. Fields that are
    not Orion's are kept as they are. ``to_dict()`` gives the document as stored.
    """

    __slots__ = ("_doc",)

    experiment = _Field()
    worker = _Field()
    submit_time = _Field()
    start_time = _Field()
    end_time = _Field()
    heartbeat = _Field()
    parent = _Field()
    exp_working_dir = _Field()

    def __init__(self, document: Mapping[str, Any] | None = None, /, **fields: Any) -> None:
        if document is not None and not isinstance(document, Mapping):
            raise InvalidDocument(f"a trial document must be a dict, not {type(document).__name__}")
        given = {**(document or {}), **fields}
        given.pop("id", None)  # derived from params, lie and parent: never trusted from the input
        given.pop("id_override", None)  # Orion < 0.2.5 stored this; `_id` replaces it
        doc: dict[str, Any] = {"_id": given.pop("_id", None)}
        doc.update(dict.fromkeys(TRIAL_FIELDS))
        doc["status"] = "new"
        for key, value in given.items():
            doc[key] = copy_tree(value)
        doc["status"] = validate_status(doc["status"])
        doc["params"] = _value_list(doc["params"], "params", PARAM_TYPES)
        doc["results"] = _value_list(doc["results"], "results", RESULT_TYPES)
        self._doc = doc

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Trial:
        return cls(document)

    def to_dict(self) -> dict[str, Any]:
        """The trial as a document in Orion's layout (``_id`` only once the store gave one)."""
        out: dict[str, Any] = {}
        if self._doc["_id"] is not None:
            out["_id"] = self._doc["_id"]
        out["id"] = self.id
        out.update((k, v) for k, v in self._doc.items() if k != "_id")
        return copy_tree(out)

    @property
    def id(self) -> str:
        """Orion's trial id: a hash of params, lie and parent (unique within an experiment)."""
        lies = [item for item in self._doc["results"] if item["type"] == "lie"]
        return trial_hash(self._doc["params"], lies[0] if lies else None, self._doc["parent"])

    @property
    def id_override(self) -> str | None:
        """The store's ``_id`` (Orion's name for it), ``None`` until registered."""
        return self._doc["_id"]  # type: ignore[no-any-return]

    @id_override.setter
    def id_override(self, value: str | None) -> None:
        self._doc["_id"] = value

    @property
    def status(self) -> str:
        return self._doc["status"]  # type: ignore[no-any-return]

    @status.setter
    def status(self, value: str) -> None:
        self._doc["status"] = validate_status(value)

    @property
    def params(self) -> Values:
        return Values(self._doc["params"])

    @params.setter
    def params(self, value: Any) -> None:
        self._doc["params"] = _value_list(value, "params", PARAM_TYPES)

    @property
    def results(self) -> Values:
        return Values(self._doc["results"])

    @results.setter
    def results(self, value: Any) -> None:
        self._doc["results"] = _value_list(value, "results", RESULT_TYPES)

    @property
    def objective(self) -> Any:
        """The value of the first result of type ``objective``, or ``None``."""
        found = self.results.of_type("objective")
        return next(iter(found.values())) if found else None

    def get(self, field: str, default: Any = None) -> Any:
        """Any stored field, Orion's or not (``id`` is computed)."""
        if field == "id":
            return self.id
        value = self._doc.get(field)
        return default if value is None else copy_tree(value)

    def _update(self, fields: Mapping[str, Any]) -> None:
        """Set stored values the store returned (no validation: they were validated on the way in)."""
        for key, value in fields.items():
            if key != "id":
                self._doc[key] = copy_tree(value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trial):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by content

    def __repr__(self) -> str:
        return f"Trial(experiment={self.experiment!r}, status={self.status!r}, params={dict(self.params)!r})"


class Experiment(Mapping[str, Any]):
    """An experiment document as a read-only mapping, with Orion's fields as properties."""

    __slots__ = ("_doc",)

    def __init__(self, document: Mapping[str, Any] | None = None, /, **fields: Any) -> None:
        if document is not None and not isinstance(document, Mapping):
            raise InvalidDocument(f"an experiment document must be a dict, not {type(document).__name__}")
        self._doc: dict[str, Any] = copy_tree({**(document or {}), **fields})

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Experiment:
        return cls(document)

    def to_dict(self) -> dict[str, Any]:
        return copy_tree(self._doc)

    def __getitem__(self, key: str) -> Any:
        return self._doc[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._doc)

    def __len__(self) -> int:
        return len(self._doc)

    def __repr__(self) -> str:
        return f"Experiment(_id={self.id!r}, name={self.name!r}, version={self.version!r})"

    @property
    def id(self) -> str | None:
        return self._doc.get("_id")

    @property
    def _id(self) -> str | None:  # Orion's storages read `experiment._id`
        return self._doc.get("_id")

    @property
    def name(self) -> str | None:
        return self._doc.get("name")

    @property
    def version(self) -> int | None:
        return self._doc.get("version")

    @property
    def space(self) -> dict[str, Any]:
        return dict(self._doc.get("space") or {})

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self._doc.get("metadata") or {})

    @property
    def refers(self) -> dict[str, Any]:
        return dict(self._doc.get("refers") or {})

    @property
    def algorithm(self) -> Any:
        return self._doc.get("algorithm")

    @property
    def max_trials(self) -> int | None:
        return self._doc.get("max_trials")

    @property
    def max_broken(self) -> int | None:
        return self._doc.get("max_broken")

    @property
    def working_dir(self) -> str | None:
        return self._doc.get("working_dir")
