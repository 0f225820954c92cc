"""Import time of conch, httpx and `socket, ssl`: medians over fresh interpreters.

    python benchmarks/imports.py [--runs 15] [--top 25] [--python PATH] [--beyond MODULE]
                                 [module ...]

Each round starts one interpreter per module (in rotating order, so load drifts hit them
alike) and times ``import module`` with ``time.perf_counter``; a second interpreter per
module runs with ``-X importtime`` for the per-module breakdown (self and cumulative µs,
medians over the rounds), which leaves out the modules interpreter startup loads, and with
``--beyond "socket, ssl"`` those that importing socket and ssl loads too. The first,
untimed round compiles and caches the bytecode.

conch is imported from this source tree (the tree goes first on PYTHONPATH). Measure with
an interpreter whose site does not install setuptools' editable finder (its ``.pth``
imports pathlib and more at startup and puts a finder in front of every import), e.g. a
venv whose only ``.pth`` lists the test venv's site-packages directory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODULES = ["conch", "httpx", "socket, ssl"]
_SNIPPET = "import time; t = time.perf_counter(); import {}; print(time.perf_counter() - t)"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _run(python: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, *args], capture_output=True, text=True, cwd=ROOT, env=env, check=True
    )


def wall_ms(python: str, module: str, env: dict[str, str]) -> float:
    out = _run(python, ["-c", _SNIPPET.format(module)], env).stdout
    return float(out.strip().splitlines()[-1]) * 1e3


def importtime(
    python: str, module: str, env: dict[str, str], beyond: str = ""
) -> dict[str, tuple[int, int]]:
    """Module name -> (self µs, cumulative µs) of one ``-X importtime`` run, for the
    modules that neither startup nor ``import beyond`` loads."""
    err = _run(python, ["-X", "importtime", "-c", f"import {module}"], env).stderr
    before = _run(python, ["-X", "importtime", "-c", f"import {beyond}" if beyond else "pass"], env)
    startup = {line.rsplit("|", 1)[-1].strip() for line in before.stderr.splitlines()}
    rows: dict[str, tuple[int, int]] = {}
    for line in err.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative, name = line[len("import time:") :].split("|")
        name = name.strip()
        if name not in startup:
            rows[name] = (int(self_us), int(cumulative))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=DEFAULT_MODULES)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--beyond", default="", help='leave out what "import BEYOND" loads')
    args = parser.parse_args()
    env = _env()
    modules: list[str] = args.modules
    for module in modules:  # compiles and caches the bytecode
        wall_ms(args.python, module, env)
    walls: dict[str, list[float]] = defaultdict(list)
    rows: dict[str, dict[str, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
    for round_index in range(args.runs):
        shift = round_index % len(modules)
        for module in modules[shift:] + modules[:shift]:
            walls[module].append(wall_ms(args.python, module, env))
            for name, times in importtime(args.python, module, env, args.beyond).items():
                rows[module][name].append(times)
    print(f"wall time of `import X`, ms: median (min-max) over {args.runs} interpreters")
    for module in modules:
        values = walls[module]
        print(
            f"  {module:<14} {statistics.median(values):7.1f}"
            f"  ({min(values):.1f}-{max(values):.1f})"
        )
    for module in modules:
        table = rows[module]
        total = sum(statistics.median(s for s, _ in v) for v in table.values()) / 1e3
        beyond = f" and `import {args.beyond}`" if args.beyond else ""
        print(f"\n{module}: {len(table)} modules beyond startup{beyond},", end=" ")
        print(f"sum of median self {total:.1f} ms")
        ranked = sorted(table.items(), key=lambda kv: -statistics.median(s for s, _ in kv[1]))
        for name, samples in ranked[: args.top]:
            self_ms = statistics.median(s for s, _ in samples) / 1e3
            cumulative_ms = statistics.median(c for _, c in samples) / 1e3
            print(f"  {self_ms:6.2f} self {cumulative_ms:7.2f} cumulative  {name}")


if __name__ == "__main__":
    main()
