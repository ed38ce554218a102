"""``python -m docstore``: the ``docstore`` command."""

from __future__ import annotations

import sys

from docstore.cli import main

if __name__ == "__main__":
    sys.exit(main())
