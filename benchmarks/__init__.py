"""docstore's benchmarks: ``python -m benchmarks`` runs one worker loop on every store (see BENCHMARKS.md).

The older scripts here run on their own too: ``jsonfile_scaling.py`` (the JSON engine vs
store size, and the machine's durable-write limit), ``optuna_journal.py`` (Optuna ask/tell),
``orion_hunt.py`` (``orion hunt`` end to end), ``query_match.py``.
"""
