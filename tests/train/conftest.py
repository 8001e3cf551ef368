import sys
from pathlib import Path

# Make the shared helpers (train_testlib.py) importable in any pytest import mode and in the
# processes spawned by the data-parallel test (they inherit sys.path).
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
