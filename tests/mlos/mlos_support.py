"""Constants and helpers shared by the mlos adapter tests (kept out of conftest so modules can import them)."""

from __future__ import annotations

import os
from pathlib import Path

ADAPTERS = str(Path(__file__).resolve().parents[2] / "adapters")

TUNABLES = {
    "group": {
        "cost": 1,
        "params": {
            "x": {"type": "int", "range": [0, 100], "default": 10},
            "rate": {"type": "float", "range": [0.0, 1.0], "default": 0.5},
            "kind": {"type": "categorical", "values": ["a", "b", "c"], "default": "a"},
        },
    }
}


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for child processes: they find docstore_mlos whatever the install."""
    path = os.pathsep.join(filter(None, [ADAPTERS, os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "PYTHONWARNINGS": "ignore", **extra}
