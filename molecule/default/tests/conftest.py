"""Make the shared helpers (tests/molecule/helpers.py at the repository root) importable."""
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
if str(REPO / "tests" / "molecule") not in sys.path:
    sys.path.insert(0, str(REPO / "tests" / "molecule"))
