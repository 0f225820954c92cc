"""One measurement in a fresh process, spawned (and pinned to the client core) by run.py:

    python benchmarks/_worker.py '{"scenario": ..., "client": ..., "params": {...}, ...}'

Prints one line `RESULT {json}`: the numbers of `_clients.run`, or `missing`/`error` with
the reason. Nothing is imported from the peers before the spec says which one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# conch from this working tree (as run.py uses it), then the harness modules.
sys.path[:0] = [str(ROOT), str(HERE)]

import _clients  # noqa: E402


def main() -> int:
    spec = json.loads(sys.argv[1])
    try:
        result = _clients.run(spec)
    except _clients.Missing as exc:
        result = {"missing": str(exc)[:200]}
    except Exception as exc:
        result = {"error": f"{type(exc).__name__}: {exc}"[:200]}
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
