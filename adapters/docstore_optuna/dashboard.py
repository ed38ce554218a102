"""optuna-dashboard over a docstore store: ``serve(uri)``, behind ``docstore dashboard URI``."""

from __future__ import annotations

from typing import Any

from docstore import MissingDependency
from docstore_optuna.backend import storage

__all__ = ["serve"]


def serve(uri: str, host: str = "127.0.0.1", port: int = 8080, **options: Any) -> None:
    """Serve optuna-dashboard for the Optuna studies in the store at ``uri``; blocks until stopped.

    Listens on loopback unless ``host`` says otherwise. ``options`` go to
    :func:`docstore_optuna.storage` (``collection``, and :func:`docstore.connect`'s options).
    """
    try:
        import optuna_dashboard
    except ImportError as exc:
        raise MissingDependency(
            'the dashboard needs optuna-dashboard: pip install "docstore[dashboard]"', package="docstore[dashboard]"
        ) from exc
    optuna_dashboard.run_server(storage(uri, **options), host=host, port=port)
