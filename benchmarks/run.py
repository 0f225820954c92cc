#!/usr/bin/env python3
"""conch against its peers and the raw-socket limit, on a local nginx.

    python benchmarks/run.py            # full run, a few minutes at most
    python benchmarks/run.py --quick    # about 40 seconds
    python benchmarks/run.py --profile  # cProfile of conch's sequential sync path

Prints a markdown report and writes it to benchmarks/results.md. See benchmarks/README.md.
Exit status: 0 done, 2 nginx not available, 130 interrupted.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import gc
import importlib.metadata
import io
import os
import platform
import pstats
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (str(ROOT), str(HERE)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import _clients as C  # noqa: E402
import _server  # noqa: E402


@dataclass(frozen=True)
class Settings:
    runs: int  # timed runs per (scenario, client); the report gives their median
    seq_seconds: float  # length of one sequential run
    conc_total: int  # requests per concurrent run...
    conc_seconds: float  # ...unless this many seconds pass first (slow peers)
    import_runs: int  # subprocesses per module for the import time
    concurrency: int = 100
    sample_timeout: float = 60.0  # a run that takes longer is reported as an error


FULL = Settings(runs=5, seq_seconds=1.0, conc_total=2000, conc_seconds=3.0, import_runs=7)
QUICK = Settings(runs=3, seq_seconds=0.3, conc_total=1000, conc_seconds=0.8, import_runs=3)


class SampleTimeout(Exception):
    pass


@contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Interrupt a run stuck in a blocking call (SIGALRM lands in the main thread)."""

    def fire(signum: int, frame: object) -> None:
        raise SampleTimeout(f"no result after {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Row:
    """One client in one scenario: its samples, or why it has none."""

    label: str
    run: Callable[[], C.Sample] | None
    conch: bool = False
    samples: list[C.Sample] = field(default_factory=list)
    error: str | None = None  # set on failure: the row prints "error"
    na: str | None = None  # set when the client cannot do this yet: the row prints "n/a"

    def median(self, metric: Callable[[C.Sample], float]) -> float | None:
        if not self.samples:
            return None
        return statistics.median(metric(s) for s in self.samples)

    def best(self, metric: Callable[[C.Sample], float], higher_is_better: bool) -> float | None:
        if not self.samples:
            return None
        values = [metric(s) for s in self.samples]
        return max(values) if higher_is_better else min(values)

    def spread(self, metric: Callable[[C.Sample], float]) -> str:
        if len(self.samples) < 2:
            return ""
        values = [metric(s) for s in self.samples]
        mid = statistics.median(values)
        return f"±{(max(values) - min(values)) / 2 / mid * 100:.0f}%" if mid else ""


def rate(sample: C.Sample) -> float:
    return sample.rate


def megabytes_per_second(sample: C.Sample) -> float:
    return sample.units / sample.wall / 1e6


def cpu_us_per_request(sample: C.Sample) -> float:
    return sample.cpu / sample.units * 1e6


def measure(rows: list[Row], settings: Settings, title: str) -> None:
    """Run every row `settings.runs` times, alternating clients, rotating the order."""
    active = [row for row in rows if row.run is not None and row.na is None]
    began = time.perf_counter()
    for run_index in range(settings.runs):
        shift = run_index % len(active) if active else 0
        for row in active[shift:] + active[:shift]:
            if row.error is not None or row.run is None:
                continue
            gc.collect()
            try:
                with watchdog(settings.sample_timeout):
                    row.samples.append(row.run())
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:
                row.error = f"{type(exc).__name__}: {exc}"[:160]
        took = time.perf_counter() - began
        print(
            f"  {title}: run {run_index + 1}/{settings.runs} done ({took:.1f} s)",
            file=sys.stderr,
            flush=True,
        )


# --------------------------------------------------------------------------------------
# Scenarios


def needs(row: Row, *modules: str) -> Row:
    """Mark `row` n/a when a peer it uses is not installed."""
    missing = [module for module in modules if not C.have(module)]
    if missing:
        row.na = f"{', '.join(missing)} not installed"
    return row


def scenario_sequential(server: _server.Nginx, s: Settings) -> list[Row]:
    url, secs = server.small_url, s.seq_seconds
    rows = [
        Row("conch.Client", partial(C.seq_conch, url, secs), conch=True),
        needs(Row("httpx.Client", partial(C.seq_httpx, url, secs)), "httpx"),
        needs(Row("requests.Session", partial(C.seq_requests, url, secs)), "requests"),
        needs(Row("urllib3.PoolManager", partial(C.seq_urllib3, url, secs)), "urllib3"),
    ]
    if C.have("pycurl"):
        rows.append(Row("pycurl (libcurl)", partial(C.seq_pycurl, url, secs)))
    rows.append(Row("raw socket (lower bound)", partial(C.seq_raw, url, secs)))
    return rows


def scenario_concurrent(server: _server.Nginx, s: Settings) -> list[Row]:
    args = (server.small_url, s.conc_total, s.concurrency, s.conc_seconds)
    return [
        Row("conch.AsyncClient (asyncio)", partial(C.conc_conch_asyncio, *args), conch=True),
        needs(
            Row("conch.AsyncClient (trio)", partial(C.conc_conch_trio, *args), conch=True),
            "trio",
        ),
        needs(Row("httpx.AsyncClient", partial(C.conc_httpx, *args)), "httpx"),
        needs(Row("aiohttp.ClientSession", partial(C.conc_aiohttp, *args)), "aiohttp"),
    ]


@dataclass
class H2Mode:
    label: str
    url: str
    client_kw: dict[str, Any]
    concurrent: bool


def h2_modes(server: _server.Nginx) -> list[H2Mode]:
    tls = {"http2": True, "verify": C.tls_context(server.ca_file)}
    h2c = {"http1": False, "http2": True}  # prior knowledge: the way httpx speaks h2c
    return [
        H2Mode("TLS (ALPN h2), 100 concurrent streams on one connection, async", "h2", tls, True),
        H2Mode("TLS (ALPN h2), sequential, sync", "h2", tls, False),
        H2Mode("h2c (prior knowledge), 100 concurrent streams, async", "h2c", h2c, True),
        H2Mode("h2c (prior knowledge), sequential, sync", "h2c", h2c, False),
    ]


def scenario_http2(server: _server.Nginx, s: Settings) -> list[tuple[H2Mode, Row, Row]]:
    result = []
    for mode in h2_modes(server):
        url = server.h2_small_url if mode.url == "h2" else server.h2c_small_url
        kw = mode.client_kw
        if mode.concurrent:
            args = (url, s.conc_total, s.concurrency, s.conc_seconds)
            conch = Row("conch", partial(C.conc_conch_asyncio, *args, 1, **kw), conch=True)
            httpx = needs(Row("httpx", partial(C.conc_httpx, *args, 1, **kw)), "httpx", "h2")
            with watchdog(s.sample_timeout):
                conch.na = C.probe_conch_async(url, **kw)
        else:
            conch = Row("conch", partial(C.seq_conch, url, s.seq_seconds, **kw), conch=True)
            httpx = needs(
                Row("httpx", partial(C.seq_httpx, url, s.seq_seconds, **kw)), "httpx", "h2"
            )
            with watchdog(s.sample_timeout):
                conch.na = C.probe_conch_sync(url, **kw)
        result.append((mode, conch, httpx))
    return result


def scenario_download(server: _server.Nginx, s: Settings) -> list[Row]:
    url = server.big_url
    rows = [
        Row("conch iter_bytes()", partial(C.dl_conch, url), conch=True),
        needs(Row("httpx iter_bytes()", partial(C.dl_httpx, url)), "httpx"),
        needs(Row("requests iter_content(64 KiB)", partial(C.dl_requests, url)), "requests"),
        needs(Row("urllib3 stream(64 KiB)", partial(C.dl_urllib3, url)), "urllib3"),
    ]
    if C.have("pycurl"):
        rows.append(Row("pycurl (libcurl)", partial(C.dl_pycurl, url)))
    rows.append(Row("raw socket recv_into (lower bound)", partial(C.dl_raw, url)))
    return rows


IMPORT_MODULES = [
    ("conch", "conch"),
    ("httpx", "httpx"),
    ("requests", "requests"),
    ("urllib3", "urllib3"),
    ("aiohttp", "aiohttp"),
    ("pycurl", "pycurl"),
]


def import_env(cache_dir: Path) -> dict[str, str]:
    """The environment for import timing: conch on the path, bytecode cached for everyone.

    Installed peers ship compiled bytecode; conch runs from its source tree, and with
    PYTHONDONTWRITEBYTECODE set it would be compiled on every import. A private
    PYTHONPYCACHEPREFIX (filled by a first, untimed import) puts every module on the same
    footing without writing into the source tree or site-packages.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache_dir)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def import_time_us(module: str, env: dict[str, str]) -> float:
    """Cumulative import time of `module` in a fresh interpreter, from -X importtime."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
        timeout=60,
    )
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1:] or ["failed"]
        raise RuntimeError(last[0][:160])
    cumulative = None
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        # The top-level line has no nesting indent: "import time: self | cumulative | name".
        if line.startswith("import time:") and len(parts) == 3 and parts[2] == f" {module}":
            cumulative = float(parts[1])
    if cumulative is None:
        raise RuntimeError(f"no importtime line for {module}")
    return cumulative


def scenario_imports(server: _server.Nginx) -> list[Row]:
    env = import_env(server.root / "pycache")  # removed with the server's directory
    rows = []
    for label, module in IMPORT_MODULES:
        if module != "conch" and not C.have(module):
            continue

        def run(module: str = module) -> C.Sample:
            micros = import_time_us(module, env)
            return C.Sample(1, micros / 1e6, micros / 1e6)

        row = Row(label, run, conch=module == "conch")
        try:
            import_time_us(module, env)  # compiles and caches the bytecode; not timed
        except Exception as exc:
            row.error = f"{type(exc).__name__}: {exc}"[:160]
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------
# Report


def fmt(value: float | None, digits: int = 0) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def ratio(conch: float | None, peer: float | None, higher_is_better: bool = True) -> str:
    if conch is None or peer is None or not conch or not peer:
        return ""
    return f"{conch / peer if higher_is_better else peer / conch:.2f}x"


def cell(row: Row, metric: Callable[[C.Sample], float], digits: int = 0) -> str:
    if row.na is not None:
        return "n/a"
    if row.error is not None:
        return "error"
    return fmt(row.median(metric), digits)


def table(
    rows: list[Row],
    metric: Callable[[C.Sample], float],
    unit: str,
    digits: int = 0,
    higher_is_better: bool = True,
) -> list[str]:
    reference = next((r for r in rows if r.conch), None)
    ref_value = reference.median(metric) if reference else None
    word = "faster" if higher_is_better else "less"
    lines = [
        f"| client | {unit} (median) | spread | best | conch vs this ({word} if > 1) |",
        "|---|--:|--:|--:|--:|",
    ]
    for row in rows:
        value = row.median(metric) if row.na is None and row.error is None else None
        if row is reference:
            versus = "(reference)"
        elif row.conch:
            versus = ""
        else:
            versus = ratio(ref_value, value, higher_is_better)
        spread = row.spread(metric) if value is not None else ""
        best = fmt(row.best(metric, higher_is_better), digits) if value is not None else ""
        lines.append(
            f"| {row.label} | {cell(row, metric, digits)} | {spread} | {best} | {versus} |"
        )
    return lines


def notes_for(rows: list[Row]) -> list[str]:
    notes = []
    for row in rows:
        if row.na is not None:
            notes.append(f"- {row.label}: n/a ({row.na})")
        elif row.error is not None:
            notes.append(f"- {row.label}: error ({row.error})")
    return notes


def version_of(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_total() -> str:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def conch_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def machine_lines(server: _server.Nginx, load_before: tuple[float, ...]) -> list[str]:
    load_after = os.getloadavg()
    libs = ["httpx", "httpcore", "h11", "h2", "requests", "urllib3", "aiohttp", "pycurl", "trio"]
    lines = [
        "| | |",
        "|---|---|",
        f"| CPU | {cpu_model()} |",
        f"| cores | {os.cpu_count()} (usable here: {len(os.sched_getaffinity(0))}) |",
        f"| memory | {memory_total()} |",
        f"| OS | {platform.system()} {platform.release()} |",
        f"| Python | {platform.python_implementation()} {platform.python_version()} |",
        f"| nginx | {server.version_text} (worker_processes 1, on 127.0.0.1) |",
        f"| conch | git {conch_revision()} (the working tree as run) |",
        f"| peers | {', '.join(f'{lib} {version_of(lib)}' for lib in libs)} |",
        f"| load average (1 min) | {load_before[0]:.2f} before, {load_after[0]:.2f} after |",
    ]
    return lines


@dataclass
class Report:
    settings: Settings
    quick: bool
    sequential: list[Row] = field(default_factory=list)
    concurrent: list[Row] = field(default_factory=list)
    http2: list[tuple[H2Mode, Row, Row]] = field(default_factory=list)
    download: list[Row] = field(default_factory=list)
    imports: list[Row] = field(default_factory=list)

    def render(self, server: _server.Nginx, load_before: tuple[float, ...], took: float) -> str:
        s = self.settings
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        mode = "--quick" if self.quick else "full"
        out = [
            "# conch benchmarks",
            "",
            f"`python benchmarks/run.py{' --quick' if self.quick else ''}` ({mode} mode), "
            f"{now}, took {took:.0f} s. Medians of {s.runs} runs per client, clients "
            "alternating within each run; spread is half the min-max range, best the best "
            "run. Higher is better unless noted. No number here is a test: they move with "
            "the machine.",
            "",
            "## Machine",
            "",
            *machine_lines(server, load_before),
            "",
        ]
        if C.FACADE_ERROR is not None:
            out += [
                f"> `import conch` failed ({C.FACADE_ERROR}); conch's rows used "
                "`sync_io.Client` and `async_io.AsyncClient` directly.",
                "",
            ]
        if max(load_before[0], os.getloadavg()[0]) > 1.5:
            out += [
                "> The machine was busy with other work during this run (load average above "
                "1.5 on 2 cores): absolute numbers are low and noisy; ratios are more "
                "trustworthy than rates.",
                "",
            ]
        if self.sequential:
            out += [
                "## 1. Sequential sync GETs of /small (1 KiB) over one keep-alive connection",
                "",
                f"Each run: a new client, {C.WARMUP_REQUESTS} warm-up requests, then "
                f"{s.seq_seconds:g} s of back-to-back requests.",
                "",
                *table(self.sequential, rate, "req/s"),
                *self._notes(self.sequential),
                "",
                "## 5. Client CPU time per request (from scenario 1)",
                "",
                "Process CPU time (user + system) of the benchmark process divided by requests.",
                "",
                *table(self.sequential, cpu_us_per_request, "µs CPU/req", 1, False),
                "",
            ]
        if self.concurrent:
            out += [
                f"## 2. {s.concurrency} concurrent async GETs of /small over up to "
                f"{s.concurrency} connections",
                "",
                f"Each run: {s.concurrency} workers share {s.conc_total:,} requests (or stop "
                f"after {s.conc_seconds:g} s), after a warm-up that opens the connections.",
                "",
                *table(self.concurrent, rate, "req/s"),
                *self._notes(self.concurrent),
                "",
            ]
        if self.http2:
            out += [
                "## 3. HTTP/2 GETs of /small",
                "",
                "Async: 100 concurrent streams on one connection (max_connections=1), same "
                "budget as scenario 2. Sync: as scenario 1. conch prints n/a until "
                "`Client(http2=True)` negotiates HTTP/2 (checked by `response.http_version`).",
                "",
                "| mode | conch req/s | httpx req/s | conch vs httpx |",
                "|---|--:|--:|--:|",
            ]
            notes = []
            for h2mode, conch, httpx in self.http2:
                versus = ratio(conch.median(rate), httpx.median(rate))
                out.append(
                    f"| {h2mode.label} | {cell(conch, rate)} | {cell(httpx, rate)} | {versus} |"
                )
                for row in (conch, httpx):
                    reason = row.na if row.na is not None else row.error
                    if reason is not None:
                        state = "n/a" if row.na is not None else "error"
                        notes.append(f"- {row.label}, {h2mode.label}: {state} ({reason})")
            if notes:
                out += ["", *dict.fromkeys(notes)]
            out.append("")
        if self.download:
            raw = next((r for r in self.download if r.label.startswith("raw")), None)
            raw_mbs = raw.median(megabytes_per_second) if raw else None
            out += [
                f"## 4. Streamed download of /big ({_server.BIG_SIZE // 2**20} MiB), "
                "body counted and dropped",
                "",
                f"The connection is opened (one small request) before timing; "
                f"{s.runs * 2} runs per client.",
                "",
                *table(self.download, megabytes_per_second, "MB/s"),
                *self._notes(self.download),
            ]
            conch_mbs = self.download[0].median(megabytes_per_second)
            if conch_mbs and raw_mbs:
                out += ["", f"conch reaches {conch_mbs / raw_mbs:.0%} of the raw socket."]
            out.append("")
        if self.imports:
            out += [
                "## 6. Import time",
                "",
                f"Cumulative `python -X importtime -c 'import X'` of the top-level module, "
                f"median of {s.import_runs} fresh interpreters (ms; lower is better). "
                "Bytecode is cached for every module alike (a private PYTHONPYCACHEPREFIX "
                "filled by one untimed import).",
                "",
                *table(self.imports, lambda x: x.wall * 1e3, "ms", 1, False),
                *self._notes(self.imports),
                "",
            ]
        out += self._targets()
        return "\n".join(out).rstrip() + "\n"

    @staticmethod
    def _notes(rows: list[Row]) -> list[str]:
        notes = notes_for(rows)
        return ["", *notes] if notes else []

    def _targets(self) -> list[str]:
        def value(rows: list[Row], prefix: str, metric: Callable[[C.Sample], float]) -> float:
            for row in rows:
                if row.label.startswith(prefix) and row.na is None and row.error is None:
                    return row.median(metric) or 0.0
            return 0.0

        checks = []
        if self.sequential:
            conch = value(self.sequential, "conch", rate)
            for peer, goal in (("httpx", 2.0), ("urllib3", 1.3)):
                other = value(self.sequential, peer, rate)
                checks.append((f"sequential sync ≥ {goal}x {peer}", conch, other, goal))
        if self.concurrent:
            conch = value(self.concurrent, "conch.AsyncClient (asyncio)", rate)
            other = value(self.concurrent, "aiohttp", rate)
            checks.append(
                (
                    f"{self.settings.concurrency} concurrent asyncio ≥ 0.6x aiohttp",
                    conch,
                    other,
                    0.6,
                )
            )
        if self.download:
            conch = value(self.download, "conch", megabytes_per_second)
            other = value(self.download, "raw", megabytes_per_second)
            checks.append(("streamed download ≥ 0.9x raw socket", conch, other, 0.9))
        if not checks:
            return []
        lines = ["## Targets", "", "| target | conch / peer | |", "|---|--:|---|"]
        for name, conch, other, goal in checks:
            if conch and other:
                got = conch / other
                lines.append(f"| {name} | {got:.2f}x | {'met' if got >= goal else 'missed'} |")
            else:
                lines.append(f"| {name} | | no data |")
        return [*lines, ""]


# --------------------------------------------------------------------------------------
# Entry points


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
    if what == "download":
        C.dl_conch(server.big_url)  # imports, caches, page cache: outside the profile
        run: Callable[[], C.Sample] = partial(C.dl_conch, server.big_url)
    else:
        C.seq_conch(server.small_url, 0.2)
        run = partial(C.seq_conch, server.small_url, seconds)
    profiler = cProfile.Profile()
    profiler.enable()
    sample = run()
    profiler.disable()
    if what == "download":
        print(f"conch.Client streamed download: {sample.units / 1e6:.0f} MB in {sample.wall:.2f} s")
        print(f"({sample.units / sample.wall / 1e6:,.0f} MB/s under the profiler)\n")
        per, unit = 1e6 / (sample.units / 2**20), "µs per MiB"
    else:
        print(f"conch.Client sequential GET /small: {sample.units} requests in {sample.wall:.2f} s")
        print(f"({sample.rate:,.0f} req/s under the profiler)\n")
        per, unit = 1e6 / sample.units, "µs per request"
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark conch against httpx, requests, urllib3, aiohttp, pycurl and "
        "raw sockets on a local nginx."
    )
    parser.add_argument("--quick", action="store_true", help="short run (about 40 s)")
    parser.add_argument("--runs", type=int, help="timed runs per client (default 5, quick 3)")
    parser.add_argument(
        "--only",
        default="1,2,3,4,5,6",
        help="comma-separated scenario numbers to run (5 comes with 1); default all",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=HERE / "results.md",
        help="where to write the markdown report (default benchmarks/results.md)",
    )
    parser.add_argument("--no-write", action="store_true", help="print the report only")
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = QUICK if args.quick else FULL
    if args.runs:
        settings = Settings(**{**settings.__dict__, "runs": args.runs})
    wanted = {part.strip() for part in args.only.split(",") if part.strip()}

    binary = args.nginx or _server.find_nginx() or _server.install_nginx()
    if binary is None or not os.access(binary, os.X_OK):
        print(
            "nginx is not installed; the benchmarks need it as the local server.\n"
            "On Debian/Ubuntu: apt-get update && apt-get install -y nginx",
            file=sys.stderr,
        )
        return 2

    # SIGTERM ends the run like Ctrl-C does, through the cleanup below.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    load_before = os.getloadavg()
    started = time.perf_counter()
    try:
        server = _server.start_nginx(binary)
    except (_server.NginxMissing, OSError) as exc:
        print(f"nginx could not start: {exc}", file=sys.stderr)
        return 2
    try:
        if args.profile:
            profile_conch(server, args.profile, max(settings.seq_seconds, 2.0))
            return 0
        report = Report(settings, args.quick)
        print(
            f"nginx {server.version_text} on 127.0.0.1:{server.port_h1} (h1), "
            f":{server.port_h2} (h2 TLS), :{server.port_h2c} (h2c); "
            f"{'quick' if args.quick else 'full'} mode, {settings.runs} runs",
            file=sys.stderr,
        )
        if wanted & {"1", "5"}:
            report.sequential = scenario_sequential(server, settings)
            measure(report.sequential, settings, "1 sequential sync")
        if "2" in wanted:
            report.concurrent = scenario_concurrent(server, settings)
            measure(report.concurrent, settings, "2 concurrent async")
        if "3" in wanted:
            report.http2 = scenario_http2(server, settings)
            rows = [row for _, conch, httpx in report.http2 for row in (conch, httpx)]
            measure(rows, settings, "3 HTTP/2")
        if "4" in wanted:
            report.download = scenario_download(server, settings)
            # Each download run is short, so it gets twice the runs to tame the noise.
            download_settings = Settings(**{**settings.__dict__, "runs": settings.runs * 2})
            measure(report.download, download_settings, "4 download")
        if "6" in wanted:
            report.imports = scenario_imports(server)
            measure(
                report.imports,
                Settings(**{**settings.__dict__, "runs": settings.import_runs}),
                "6 import time",
            )
        text = report.render(server, load_before, time.perf_counter() - started)
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
