#!/usr/bin/env python3
"""conch against its peers and the raw-socket bound, on a local nginx.

    python benchmarks/run.py                 # full run, under 10 minutes
    python benchmarks/run.py --quick         # 1-2 minutes, for development
    python benchmarks/run.py --only seq,a100 --clients conch,urllib3
    python benchmarks/run.py --profile       # cProfile of conch's sequential sync path

Every (round, scenario, client) is measured in a fresh worker process (`_worker.py`) pinned
to one core while nginx (master and its one worker) is pinned to another. Rounds are
interleaved: each round runs every scenario once, clients in an order rotated from round
to round. The report gives medians over the rounds: the client's CPU time per request (the
steady figure; rates swing with the machine), the rate, nginx's CPU and the connections
nginx accepted. Prints the markdown report and writes it to benchmarks/results.md.
Exit status: 0 done, 2 nginx not available, 130 interrupted. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import importlib.metadata
import importlib.util
import io
import json
import os
import platform
import pstats
import re
import signal
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKER = HERE / "_worker.py"
for _path in (str(ROOT), str(HERE)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import _clients as C  # noqa: E402
import _server  # noqa: E402

BUSY_LOAD = 1.5  # 1-minute load average above which the report warns (2 cores here)


@dataclass(frozen=True)
class Settings:
    rounds: int  # each round measures every (scenario, client) once; medians over rounds
    seq_seconds: float  # timed part of a sequential run (sync and async)
    conc_total: int  # requests per concurrent run...
    conc_seconds: float  # ...unless this many seconds pass first (slow peers)
    dl_seconds: float  # 1 MiB downloads back to back for this long
    import_runs: int  # fresh interpreters per module and round, for the import time
    concurrency: int = 100
    worker_timeout: float = 120.0  # a worker still running then is killed, the row failed


FULL = Settings(
    rounds=5, seq_seconds=0.5, conc_total=2000, conc_seconds=3.0, dl_seconds=0.5, import_runs=3
)
QUICK = Settings(
    rounds=2, seq_seconds=0.2, conc_total=500, conc_seconds=1.0, dl_seconds=0.2, import_runs=2
)

# Client key -> (label in sync scenarios, label in async scenarios, module that must exist).
CLIENTS: dict[str, tuple[str, str, str]] = {
    "conch": ("conch.Client", "conch.AsyncClient (asyncio)", "conch"),
    "conch-trio": ("", "conch.AsyncClient (trio)", "trio"),
    "httpx": ("httpx.Client", "httpx.AsyncClient", "httpx"),
    "requests": ("requests.Session", "", "requests"),
    "urllib3": ("urllib3.PoolManager", "", "urllib3"),
    "niquests": ("niquests.Session", "niquests.AsyncSession", "niquests"),
    "pycurl": ("pycurl (libcurl)", "", "pycurl"),
    "aiohttp": ("", "aiohttp.ClientSession", "aiohttp"),
    "aiosonic": ("", "aiosonic.HTTPClient", "aiosonic"),
    "raw": ("raw socket (lower bound)", "", "socket"),
}

# Distribution names whose versions the report lists.
DISTRIBUTIONS = [
    "httpx",
    "httpcore",
    "h11",
    "h2",
    "requests",
    "urllib3",
    "niquests",
    "urllib3-future",
    "pycurl",
    "aiohttp",
    "aiosonic",
    "trio",
]


@dataclass(frozen=True)
class Scenario:
    key: str  # for --only
    title: str
    how: str  # one sentence under the title
    worker: str  # the function in _clients.SCENARIOS
    clients: tuple[str, ...]
    params: dict[str, Any]
    protocol: str  # what nginx must report (X-Protocol) for a row to count
    per: str = "req"  # "req": CPU per request and req/s; "MB": CPU per MB and MB/s
    asynchronous: bool = False


SYNC_H1 = ("conch", "httpx", "requests", "urllib3", "niquests", "pycurl", "raw")
SYNC_H2 = ("conch", "httpx", "niquests", "pycurl")
ASYNC_H1 = ("conch", "conch-trio", "httpx", "aiohttp", "niquests", "aiosonic")
ASYNC_H2 = ("conch", "conch-trio", "httpx", "niquests", "aiosonic")


def scenarios(server: _server.Nginx, s: Settings) -> list[Scenario]:
    ca = server.ca_file
    small = partial(server.url, path="small")
    seq = {"seconds": s.seq_seconds}
    conc = {"total": s.conc_total, "concurrency": s.concurrency, "max_seconds": s.conc_seconds}
    every = f"{s.seq_seconds:g} s of back-to-back GETs of a 1 KiB file on one connection"
    burst = (
        f"{s.concurrency} tasks share {s.conc_total:,} GETs of 1 KiB (none started after "
        f"{s.conc_seconds:g} s), after a warm-up burst that opens the connections"
    )
    mib = 2**20
    return [
        Scenario("seq", "Sequential sync, plain HTTP/1.1", every + ".", "sequential",
                 SYNC_H1, {"url": small("h1"), **seq}, "HTTP/1.1"),
        Scenario("tls", "Sequential sync, HTTP/1.1 over TLS", every + " (TLS).",
                 "sequential", SYNC_H1, {"url": small("tls"), "ca": ca, **seq}, "HTTP/1.1"),
        Scenario("h2", "Sequential sync, HTTP/2 over TLS (ALPN)", every + ".", "sequential",
                 SYNC_H2, {"url": small("h2"), "ca": ca, "http": "2", **seq}, "HTTP/2.0"),
        Scenario("h2c", "Sequential sync, h2c (HTTP/2 prior knowledge)", every + ".",
                 "sequential", SYNC_H2, {"url": small("h2c"), "http": "2c", **seq},
                 "HTTP/2.0"),
        Scenario("aseq", "Async sequential, plain HTTP/1.1", every + ", one at a time.",
                 "async_sequential", ASYNC_H1, {"url": small("h1"), **seq}, "HTTP/1.1",
                 asynchronous=True),
        Scenario("a100", f"Async, {s.concurrency} concurrent over up to {s.concurrency} "
                 "connections", burst + ".", "async_concurrent", ASYNC_H1,
                 {"url": small("h1"), "connections": s.concurrency, **conc}, "HTTP/1.1",
                 asynchronous=True),
        Scenario("ah2", f"Async HTTP/2 (TLS), {s.concurrency} concurrent streams on one "
                 "connection", burst + "; the client may open one connection.",
                 "async_concurrent", ASYNC_H2,
                 {"url": small("h2"), "connections": 1, "http": "2", "ca": ca, **conc},
                 "HTTP/2.0", asynchronous=True),
        Scenario("dl1m", "Download 1 MiB, streamed", f"{s.dl_seconds:g} s of back-to-back "
                 "streamed downloads of 1 MiB on one open connection, read and dropped.",
                 "download", SYNC_H1,
                 {"url": server.url("h1", "medium"), "small_url": small("h1"),
                  "size": _server.MEDIUM_SIZE, "seconds": s.dl_seconds}, "HTTP/1.1", "MB"),
        Scenario("dl100m", "Download 100 MiB, streamed", "One streamed download of 100 MiB "
                 "on an open connection, chunks counted and dropped.", "download", SYNC_H1,
                 {"url": server.url("h1", "big"), "small_url": small("h1"),
                  "size": _server.BIG_SIZE, "seconds": 0}, "HTTP/1.1", "MB"),
        Scenario("up100m", "Upload 100 MiB, streamed", "One PUT of a generator of 64 KiB "
                 "chunks (chunked; the raw socket sends Content-Length), on an open "
                 "connection; nginx reads all of it before answering.", "upload", SYNC_H1,
                 {"url": server.url("h1", "upload/sink"), "small_url": small("h1"),
                  "size": 100 * mib}, "HTTP/1.1", "MB"),
    ]  # fmt: skip


IMPORTS = [
    ("conch", "conch"),
    ("httpx", "httpx"),
    ("requests", "requests"),
    ("urllib3", "urllib3"),
    ("niquests", "niquests"),
    ("aiohttp", "aiohttp"),
    ("aiosonic", "aiosonic"),
    ("pycurl", "pycurl"),
    ("socket, ssl (lower bound)", "socket, ssl"),
]
SCENARIO_KEYS = ["seq", "tls", "h2", "h2c", "aseq", "a100", "ah2", "dl1m", "dl100m", "up100m"]


# --------------------------------------------------------------------------------------
# Rows and measurements


@dataclass
class Row:
    """One client in one scenario: its samples (worker results), or why it has none."""

    key: str
    label: str
    samples: list[dict[str, float]] = field(default_factory=list)
    na: str | None = None  # not installed, or cannot do this: prints "n/a" with the reason
    failed: str | None = None  # raised or timed out: prints "n/a", "failed: reason"

    @property
    def conch(self) -> bool:
        return self.key.startswith("conch")

    @property
    def usable(self) -> bool:
        return self.na is None and self.failed is None and bool(self.samples)

    def values(self, metric: Callable[[dict[str, float]], float]) -> list[float]:
        return [metric(sample) for sample in self.samples]

    def median(self, metric: Callable[[dict[str, float]], float]) -> float | None:
        return statistics.median(self.values(metric)) if self.usable else None

    def spread(self, metric: Callable[[dict[str, float]], float]) -> str:
        values = self.values(metric)
        if not self.usable or len(values) < 2:
            return ""
        mid = statistics.median(values)
        return f"±{(max(values) - min(values)) / 2 / mid * 100:.0f}%" if mid else ""

    def reason(self) -> str | None:
        if self.na is not None:
            return self.na
        if self.failed is not None:
            return f"failed: {self.failed}"
        return None


def cpu_per_unit(per: str) -> Callable[[dict[str, float]], float]:
    """µs of client CPU per request, or per MB (10^6 bytes)."""
    scale = 1.0 if per == "req" else 1e-6
    return lambda s: s["cpu"] * 1e6 / (s["units"] * scale)


def rate(per: str) -> Callable[[dict[str, float]], float]:
    scale = 1.0 if per == "req" else 1e-6
    return lambda s: s["units"] * scale / s["wall"]


def nginx_percent(s: dict[str, float]) -> float:
    return s["nginx_cpu"] / s["wall"] * 100


def connections(s: dict[str, float]) -> float:
    return s["conns"]


def import_ms(s: dict[str, float]) -> float:
    return s["wall"] * 1e3


@dataclass
class Pinning:
    server: set[int] | None
    client: set[int] | None
    usable: int  # cores this process could use before pinning itself

    def describe(self) -> str:
        if self.server is None or self.client is None:
            return "not pinned (fewer than 2 usable cores)"
        return f"nginx on core {min(self.server)}, each client process on core {min(self.client)}"


def choose_cores() -> Pinning:
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return Pinning(None, None, len(cores))
    return Pinning({cores[0]}, {cores[1]}, len(cores))


def _pinned(cores: set[int] | None) -> Callable[[], None] | None:
    if not cores:
        return None
    return partial(os.sched_setaffinity, 0, cores)


def run_worker(spec: dict[str, Any], pin: Pinning, timeout: float) -> dict[str, Any]:
    """Spawn one worker process for one measurement and return what it printed."""
    try:
        proc = subprocess.run(
            [sys.executable, str(WORKER), json.dumps(spec)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=timeout,
            check=False,
            preexec_fn=_pinned(pin.client),
        )
    except subprocess.TimeoutExpired:
        return {"error": f"no result after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[7:])
            return result
    tail = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
    return {"error": tail[:200]}


def make_rows(scenario: Scenario, wanted: set[str] | None, blocked: dict[str, str]) -> list[Row]:
    rows = []
    for key in scenario.clients:
        if wanted is not None and not any(key == w or key.startswith(w + "-") for w in wanted):
            continue
        sync_label, async_label, module = CLIENTS[key]
        row = Row(key, async_label if scenario.asynchronous else sync_label)
        if key in blocked:
            row.na = blocked[key]
        elif importlib.util.find_spec(module) is None:
            row.na = f"{module} not installed"
        rows.append(row)
    return rows


def rotated(items: list[Any], shift: int) -> list[Any]:
    if not items:
        return items
    shift %= len(items)
    return items[shift:] + items[:shift]


def measure_round(
    round_index: int,
    plan: list[tuple[Scenario, list[Row]]],
    server: _server.Nginx,
    pin: Pinning,
    settings: Settings,
) -> None:
    for scenario, rows in plan:
        for row in rotated(rows, round_index):
            if row.na is not None or row.failed is not None:
                continue
            spec = {
                "scenario": scenario.worker,
                "client": row.key,
                "params": scenario.params,
                "nginx_pid": server.worker_pid,
                "status_port": server.port_status,
            }
            result = run_worker(spec, pin, settings.worker_timeout)
            if "missing" in result:
                row.na = result["missing"]
            elif "error" in result:
                row.failed = result["error"]
            elif result["protocol"] != scenario.protocol:
                row.na = f"spoke {result['protocol'] or 'unknown'}, not {scenario.protocol}"
            else:
                row.samples.append(result)


def import_env(cache_dir: Path) -> dict[str, str]:
    """The environment for import timing: conch on the path, bytecode cached for everyone.

    Installed peers ship compiled bytecode; conch runs from its source tree. A private
    PYTHONPYCACHEPREFIX (filled by a first, untimed import) puts every module on the same
    footing without writing into the source tree or site-packages.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache_dir)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


_IMPORT_SNIPPET = "import time; t = time.perf_counter(); import {}; print(time.perf_counter() - t)"


def import_seconds(module: str, env: dict[str, str], pin: Pinning) -> float:
    """Wall time of `import module` in a fresh interpreter (pinned like the workers)."""
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_SNIPPET.format(module)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
        timeout=60,
        preexec_fn=_pinned(pin.client),
    )
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr.strip().splitlines() or ["failed"])[-1][:160])
    return float(proc.stdout.strip().splitlines()[-1])


def import_rows(env: dict[str, str], pin: Pinning, blocked: dict[str, str]) -> list[Row]:
    rows = []
    for label, module in IMPORTS:
        row = Row(module, label)
        first = module.split(",")[0]
        if module in blocked:
            row.na = blocked[module]
        elif importlib.util.find_spec(first) is None:
            row.na = f"{first} not installed"
        else:
            try:
                import_seconds(module, env, pin)  # compiles and caches the bytecode
            except Exception as exc:
                row.failed = f"{type(exc).__name__}: {exc}"[:160]
        rows.append(row)
    return rows


def measure_imports(
    round_index: int, rows: list[Row], env: dict[str, str], pin: Pinning, runs: int
) -> None:
    for row in rotated(rows, round_index):
        if row.na is not None or row.failed is not None:
            continue
        for _ in range(runs):
            try:
                row.samples.append({"wall": import_seconds(row.key, env, pin)})
            except Exception as exc:
                row.failed = f"{type(exc).__name__}: {exc}"[:160]
                break


# --------------------------------------------------------------------------------------
# Report


def fmt(value: float | None, digits: int = 0) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def cpu_ratio(conch: float | None, peer: float | None) -> str:
    """How many times less CPU conch spends than the peer (> 1: conch does better)."""
    if not conch or not peer:
        return ""
    return f"{peer / conch:.2f}x"


def scenario_table(scenario: Scenario, rows: list[Row]) -> list[str]:
    cpu = cpu_per_unit(scenario.per)
    speed = rate(scenario.per)
    unit = "req/s" if scenario.per == "req" else "MB/s"
    reference = next((r for r in rows if r.conch and r.usable), None)
    ref_cpu = reference.median(cpu) if reference else None
    lines = [
        f"| client | CPU µs/{scenario.per} | spread | {unit} | nginx CPU | connections "
        "| conch vs this: CPU |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    notes = []
    digits = 1 if scenario.per == "req" else 0
    for row in rows:
        if not row.usable:
            lines.append(f"| {row.label} | n/a | | | | | |")
            notes.append(f"- {row.label}: n/a ({row.reason() or 'no sample'})")
            continue
        if row is reference:
            versus = "(reference)"
        elif row.conch:
            versus = ""
        else:
            versus = cpu_ratio(ref_cpu, row.median(cpu))
        conns = row.median(connections)
        lines.append(
            f"| {row.label} | {fmt(row.median(cpu), digits)} | {row.spread(cpu)} "
            f"| {fmt(row.median(speed))} | {fmt(row.median(nginx_percent))}% "
            f"| {fmt(conns)} | {versus} |"
        )
    return lines + (["", *notes] if notes else [])


def import_table(rows: list[Row]) -> list[str]:
    reference = next((r for r in rows if r.conch and r.usable), None)
    ref = reference.median(import_ms) if reference else None
    lines = ["| module | ms (median) | spread | conch vs this: time |", "|---|--:|--:|--:|"]
    notes = []
    for row in rows:
        if not row.usable:
            lines.append(f"| {row.label} | n/a | | |")
            notes.append(f"- {row.label}: n/a ({row.reason() or 'no sample'})")
            continue
        versus = "(reference)" if row is reference else cpu_ratio(ref, row.median(import_ms))
        lines.append(
            f"| {row.label} | {fmt(row.median(import_ms), 1)} | {row.spread(import_ms)} "
            f"| {versus} |"
        )
    return lines + (["", *notes] if notes else [])


def version_of(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _first_line(path: str, prefix: str) -> str | None:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line
    except OSError:
        pass
    return None


def cpu_model() -> str:
    line = _first_line("/proc/cpuinfo", "model name")
    return line.split(":", 1)[1].strip() if line else platform.processor() or "unknown"


def memory_total() -> str:
    line = _first_line("/proc/meminfo", "MemTotal:")
    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB" if line else "unknown"


def conch_revision() -> str:
    def git(*args: str) -> str:
        try:
            out = subprocess.run(
                ["git", "-C", str(ROOT), *args],
                capture_output=True,
                text=True,
                check=False,
                timeout=10,
            )
        except OSError:
            return ""
        return out.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".")
    return f"{commit}{' with uncommitted changes' if dirty else ''}"


def libcurl_version() -> str:
    if importlib.util.find_spec("pycurl") is None:
        return ""
    out = subprocess.run(
        [sys.executable, "-c", "import pycurl; print(pycurl.version)"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    match = re.search(r"libcurl/(\S+)", out.stdout)
    return f" (libcurl {match.group(1)})" if match else ""


def machine_lines(server: _server.Nginx, pin: Pinning, load: tuple[float, float]) -> list[str]:
    peers = []
    for dist in DISTRIBUTIONS:
        version = version_of(dist)
        if version is not None:
            peers.append(f"{dist} {version}{libcurl_version() if dist == 'pycurl' else ''}")
    return [
        "| | |",
        "|---|---|",
        f"| CPU | {cpu_model()} |",
        f"| cores | {os.cpu_count()} (usable here: {pin.usable}) |",
        f"| memory | {memory_total()} |",
        f"| kernel | {platform.system()} {platform.release()} |",
        f"| Python | {platform.python_implementation()} {platform.python_version()}, "
        f"{ssl.OPENSSL_VERSION} |",
        f"| nginx | {server.version_text} (worker_processes 1, on 127.0.0.1) |",
        f"| pinning | {pin.describe()} |",
        f"| conch | git {conch_revision()} |",
        f"| peers | {', '.join(peers)} |",
        f"| load average (1 min) | {load[0]:.2f} before, {load[1]:.2f} after |",
    ]


@dataclass(frozen=True)
class Target:
    name: str
    scenario: str
    peer: str
    goal: float
    throughput: bool = False  # compare MB/s (conch / peer) instead of CPU (peer / conch)


TARGETS = [
    Target("sync sequential: CPU ≥ 1.5x less than urllib3", "seq", "urllib3", 1.5),
    Target("sync sequential: CPU ≥ 3x less than httpx", "seq", "httpx", 3.0),
    Target("sync TLS: CPU ≥ 1.3x less than urllib3", "tls", "urllib3", 1.3),
    Target("async 100 connections: CPU ≤ aiohttp's", "a100", "aiohttp", 1.0),
    Target("async 100 connections: CPU ≤ aiosonic's", "a100", "aiosonic", 1.0),
    Target("async HTTP/2: CPU ≤ aiosonic's", "ah2", "aiosonic", 1.0),
    Target("sync HTTP/2: CPU ≥ 1.5x less than niquests", "h2", "niquests", 1.5),
    Target("download 100 MiB: ≥ 90% of the raw socket's MB/s", "dl100m", "raw", 0.9, True),
]


def targets_section(plan: list[tuple[Scenario, list[Row]]], imports: list[Row]) -> list[str]:
    by_key = {scenario.key: (scenario, rows) for scenario, rows in plan}
    lines = [
        "## Targets",
        "",
        "From the issue; CPU per request (or per MB), median over the rounds.",
        "",
        "| target | conch vs peer | goal | |",
        "|---|--:|--:|---|",
    ]

    def row_of(rows: list[Row], key: str) -> Row | None:
        return next((r for r in rows if r.key == key and r.usable), None)

    for target in TARGETS:
        if target.scenario not in by_key:
            continue
        scenario, rows = by_key[target.scenario]
        conch, peer = row_of(rows, "conch"), row_of(rows, target.peer)
        got = None
        if conch and peer:
            if target.throughput:
                metric = rate(scenario.per)
                got = (conch.median(metric) or 0) / (peer.median(metric) or 1)
            else:
                metric = cpu_per_unit(scenario.per)
                got = (peer.median(metric) or 0) / (conch.median(metric) or 1)
        lines.append(_target_line(target.name, got, target.goal))
    if imports:
        conch, httpx = row_of(imports, "conch"), row_of(imports, "httpx")
        got = None
        if conch and httpx:
            got = (httpx.median(import_ms) or 0) / (conch.median(import_ms) or 1)
        lines.append(_target_line("import conch in under half of httpx's time", got, 2.0))
    return [*lines, ""] if len(lines) > 6 else []


def _target_line(name: str, got: float | None, goal: float) -> str:
    if got is None:
        return f"| {name} | | {goal:g}x | no data |"
    return f"| {name} | {got:.2f}x | {goal:g}x | {'met' if got >= goal else 'missed'} |"


def render(
    settings: Settings,
    quick: bool,
    server: _server.Nginx,
    pin: Pinning,
    plan: list[tuple[Scenario, list[Row]]],
    imports: list[Row],
    load: tuple[float, float],
    took: float,
    command: str,
) -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    s = settings
    out = [
        "# conch benchmarks",
        "",
        f"`{command}` ({'quick' if quick else 'full'} mode), {now}, took {took:.0f} s.",
        "",
        f"Every number is the median of {s.rounds} rounds; each round measures every client "
        "in every scenario once, in a fresh process, clients in an order rotated from round "
        "to round. **CPU µs/req** (or per MB) is the client process's own CPU time (user + "
        "system, all threads) over the timed part divided by the requests (or MB) done: the "
        "steady figure, since rates swing with the machine. Spread is half the min-max range "
        "of that CPU time over the rounds. nginx CPU is its worker's CPU time over the same "
        "window; connections are those nginx accepted while the client existed (stub_status), "
        "so 1 means one reused connection. **conch vs this** is the peer's CPU over conch's: "
        "above 1, conch spends less. The client's rows must get the protocol the scenario "
        "names (nginx reports it in each response), otherwise they print n/a.",
        "",
        "## Machine",
        "",
        *machine_lines(server, pin, load),
        "",
    ]
    if max(load) > BUSY_LOAD:
        out += [
            f"> The machine was busy with other work (load average above {BUSY_LOAD} on "
            f"{os.cpu_count()} cores): rates are low and noisy; CPU per request and the "
            "ratios are the figures to read.",
            "",
        ]
    for number, (scenario, rows) in enumerate(plan, 1):
        out += [f"## {number}. {scenario.title} (`{scenario.key}`)", "", scenario.how, ""]
        out += [*scenario_table(scenario, rows), ""]
    if imports:
        out += [
            f"## {len(plan) + 1}. Import time (`import`)",
            "",
            f"Wall time of `import X` in a fresh interpreter pinned like the clients, "
            f"{s.import_runs} interpreters per round; bytecode cached for every module alike "
            "(a private PYTHONPYCACHEPREFIX filled by one untimed import). Lower is better.",
            "",
            *import_table(imports),
            "",
        ]
    out += targets_section(plan, imports)
    return "\n".join(out).rstrip() + "\n"


# --------------------------------------------------------------------------------------
# Setup: nginx and peers a fresh machine may lack or have wrong


def urllib3_shadowed() -> str | None:
    """Why `import urllib3` is not urllib3 (urllib3-future installs over it), or None."""
    if importlib.util.find_spec("urllib3") is None:
        return None
    out = subprocess.run(
        [sys.executable, "-c", "import urllib3; print(urllib3.__version__)"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    version = out.stdout.strip()
    # urllib3-future's versions end in .9xx; it replaces the urllib3 package on install.
    if re.fullmatch(r"\d+\.\d+\.9\d\d", version):
        return f"`import urllib3` gives urllib3-future {version}"
    return None


def repair_urllib3(allowed: bool) -> str | None:
    """Put the real urllib3 back beside urllib3-future (niquests uses urllib3_future then).

    Returns why urllib3 and requests cannot be measured, or None when all is well.
    """
    reason = urllib3_shadowed()
    if reason is None or not allowed:
        return reason
    print(
        f"{reason}: reinstalling urllib3-future without its override, then urllib3",
        file=sys.stderr,
        flush=True,
    )
    future = version_of("urllib3-future")
    env = {**os.environ, "URLLIB3_NO_OVERRIDE": "1"}
    pip = [sys.executable, "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps"]
    for command, extra in (
        ([*pip, "--no-binary", "urllib3-future", f"urllib3-future=={future}"], env),
        ([*pip, "urllib3>=2"], None),
    ):
        if subprocess.run(command, env=extra, check=False).returncode != 0:
            return reason + " (the reinstall failed)"
    return urllib3_shadowed()


# --------------------------------------------------------------------------------------
# Profile mode


def _profile_group(filename: str, function: str) -> str:
    if filename == "~":  # C functions: tell syscalls apart from other built-ins
        if "_socket.socket" in function or "_ssl." in function:
            return "socket calls (kernel, includes waiting for nginx)"
        return "other built-ins (C)"
    for marker, group in (
        ("/h11/", "h11"),
        ("/sansio/", "conch sansio"),
        ("/sync_io/", "conch sync_io"),
        ("/benchmarks/", "benchmark loop"),
    ):
        if marker in filename:
            return group
    return "other Python (stdlib)"


def profile_conch(server: _server.Nginx, what: str, seconds: float) -> None:
    """Print where conch's sequential sync path (or its download) spends its time.

    cProfile with its default wall clock: socket calls include waiting for nginx.
    """
    small, big = server.url("h1", "small"), server.url("h1", "big")
    client = C.ConchSync(small, "1", None)
    client.check()
    if what == "download":
        client.download(big)  # imports, caches, page cache: outside the profile
    else:
        for _ in range(200):
            client.get()
    profiler = cProfile.Profile()
    units = 0
    start = time.perf_counter()
    profiler.enable()
    if what == "download":
        units = client.download(big)
    else:
        deadline = start + seconds
        while time.perf_counter() < deadline:
            client.get()
            units += 1
    profiler.disable()
    wall = time.perf_counter() - start
    client.close()
    if what == "download":
        print(f"conch.Client streamed download: {units / 1e6:.0f} MB in {wall:.2f} s")
        print(f"({units / wall / 1e6:,.0f} MB/s under the profiler)\n")
        per, unit = 1e6 / (units / 2**20), "µs per MiB"
    else:
        print(f"conch.Client sequential GET /small: {units} requests in {wall:.2f} s")
        print(f"({units / wall:,.0f} req/s under the profiler)\n")
        per, unit = 1e6 / units, "µs per request"
    stats = pstats.Stats(profiler)
    groups: dict[str, float] = {}
    total = 0.0
    for (filename, _, function), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        group = _profile_group(filename, function)
        groups[group] = groups.get(group, 0.0) + tottime
        total += tottime
    print(f"| where | share of profiled time | {unit} |")
    print("|---|--:|--:|")
    for group, spent in sorted(groups.items(), key=lambda item: -item[1]):
        print(f"| {group} | {spent / total:.0%} | {spent * per:.1f} |")
    print()
    for key in ("tottime", "cumulative"):
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).strip_dirs().sort_stats(key).print_stats(25)
        text = buffer.getvalue()
        print(f"--- top 25 by {key} ---")
        print(text[text.find("   ncalls") :].rstrip(), "\n")


# --------------------------------------------------------------------------------------
# Entry point


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark conch against httpx, requests, urllib3, niquests, pycurl, "
        "aiohttp, aiosonic and raw sockets on a local nginx."
    )
    parser.add_argument("--quick", action="store_true", help="short run (1-2 minutes)")
    parser.add_argument("--rounds", type=int, help="rounds (default 5, or 2 with --quick)")
    parser.add_argument(
        "--only",
        help="comma-separated scenarios to run, by name or number: "
        + ", ".join(f"{i} {key}" for i, key in enumerate([*SCENARIO_KEYS, "import"], 1))
        + " (default: all)",
    )
    parser.add_argument(
        "--clients",
        help="comma-separated clients to run (default: all): "
        + ", ".join(CLIENTS)
        + "; a name also selects its variants (conch: conch-trio too)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=HERE / "results.md",
        help="where to write the markdown report (default benchmarks/results.md)",
    )
    parser.add_argument("--no-write", action="store_true", help="print the report only")
    parser.add_argument(
        "--no-install",
        action="store_true",
        help="never install anything (nginx via apt, the urllib3 repair via pip)",
    )
    parser.add_argument(
        "--profile",
        nargs="?",
        const="sequential",
        choices=["sequential", "download"],
        help="instead of benchmarking, cProfile conch's sequential sync path (default) "
        "or its streamed download, and print where the time goes",
    )
    parser.add_argument("--nginx", help="path to the nginx binary (default: found on PATH)")
    return parser.parse_args(argv)


def selected(only: str | None) -> set[str]:
    names = [*SCENARIO_KEYS, "import"]
    if not only:
        return set(names)
    chosen = set()
    for part in only.split(","):
        part = part.strip()
        if part.isdigit() and 1 <= int(part) <= len(names):
            chosen.add(names[int(part) - 1])
        elif part in names:
            chosen.add(part)
        elif part:
            raise SystemExit(f"unknown scenario {part!r}; choose from {', '.join(names)}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = QUICK if args.quick else FULL
    if args.rounds:
        settings = replace(settings, rounds=args.rounds)
    wanted = selected(args.only)
    clients = {c.strip() for c in args.clients.split(",") if c.strip()} if args.clients else None
    if clients is not None and (unknown := clients - set(CLIENTS)):
        raise SystemExit(f"unknown client(s) {', '.join(sorted(unknown))}")

    binary = args.nginx or _server.find_nginx()
    if binary is None and not args.no_install:
        binary = _server.install_nginx()
    if binary is None or not os.access(binary, os.X_OK):
        print(
            "nginx is not installed; the benchmarks need it as the local server.\n"
            "On Debian/Ubuntu: apt-get update && apt-get install -y nginx",
            file=sys.stderr,
        )
        return 2
    blocked: dict[str, str] = {}
    if not args.profile and (reason := repair_urllib3(not args.no_install)):
        blocked = {"urllib3": reason, "requests": reason}

    # SIGTERM ends the run like Ctrl-C does, through the cleanup below.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    pin = choose_cores()
    # This process mostly waits for workers: keep it off their core. When it profiles,
    # it is the client, and takes the client core.
    mine = pin.client if args.profile else pin.server
    if mine:
        os.sched_setaffinity(0, mine)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    try:
        server = _server.start_nginx(binary, pin.server)
    except (_server.NginxMissing, OSError) as exc:
        print(f"nginx could not start: {exc}", file=sys.stderr)
        return 2
    try:
        if args.profile:
            profile_conch(server, args.profile, 2.0)
            return 0
        print(
            f"nginx {server.version_text}, {pin.describe()}; "
            f"{'quick' if args.quick else 'full'} mode, {settings.rounds} rounds",
            file=sys.stderr,
            flush=True,
        )
        plan = [
            (scenario, make_rows(scenario, clients, blocked))
            for scenario in scenarios(server, settings)
            if scenario.key in wanted
        ]
        plan = [(scenario, rows) for scenario, rows in plan if rows]
        imports: list[Row] = []
        env = import_env(server.root / "pycache")  # removed with the server's directory
        if "import" in wanted:
            imports = import_rows(env, pin, blocked)
            if clients is not None:
                keep = {CLIENTS[c][2] for c in clients} | {"socket, ssl"}
                imports = [row for row in imports if row.key in keep]
        for round_index in range(settings.rounds):
            measure_round(round_index, plan, server, pin, settings)
            measure_imports(round_index, imports, env, pin, settings.import_runs)
            print(
                f"  round {round_index + 1}/{settings.rounds} done "
                f"({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
        command = " ".join(["python benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)])
        text = render(
            settings,
            args.quick,
            server,
            pin,
            plan,
            imports,
            (load_before, os.getloadavg()[0]),
            time.perf_counter() - started,
            command,
        )
    except KeyboardInterrupt:
        print("\ninterrupted; nginx stopped", file=sys.stderr)
        return 130
    finally:
        server.stop()
    print(text)
    if not args.no_write:
        args.out.write_text(text)
        print(f"written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
