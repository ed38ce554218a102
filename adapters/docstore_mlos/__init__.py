"""mlos_bench storage on docstore: ``{"class": "docstore_mlos.DocstoreStorage", "config": {"uri": "study.json"}}``.

See docs/mlos.md for the configuration and every difference from mlos_bench's SqlStorage.
"""

from __future__ import annotations

from docstore_mlos.data import ExperimentData, TrialData, TunableConfigData, TunableConfigTrialGroupData
from docstore_mlos.storage import DocstoreStorage

__all__ = ["DocstoreStorage", "ExperimentData", "TrialData", "TunableConfigData", "TunableConfigTrialGroupData"]
