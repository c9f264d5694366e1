# SPDX-License-Identifier: Apache-2.0
"""``bench`` is run from the repository's root (``python -m bench``) and not installed: make it importable here."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
