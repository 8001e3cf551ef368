import sys
from pathlib import Path

# Make the shared float64 references (sm_reference.py) importable in any pytest import mode.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
