"""Run `taskmanager bench` and the peer benchmarks side by side; write the results into
docs/benchmarks.md (between its results markers, the prose around them stays).

The runs go in rounds: each round runs every system once, one after another, so that each
system meets the same mix of the machine's fast and slow minutes; the figures are medians over
the rounds. The two backlogs are measured in rounds of their own, in turn, after the rest.

    python3 benchmarks/run.py                      # 20,000 tasks, 4 workers, 3 rounds
    python3 benchmarks/run.py --tasks 5000 --skip-peers

Needs the project venv (.venv) and the peers' venv (benchmarks/.venv, see
benchmarks/peers/requirements.txt), Redis on 127.0.0.1:6379, PostgreSQL on 127.0.0.1:5432
(user postgres) and, for the MariaDB row, MariaDB on 127.0.0.1:3306 (user root).
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OURS = ROOT / ".venv" / "bin" / "taskmanager"
PEERS_PYTHON = ROOT / "benchmarks" / ".venv" / "bin" / "python"
PEERS = ["pgqueuer", "dramatiq", "celery", "procrastinate", "rq"]
PEER_NAMES = {
    "pgqueuer": "PgQueuer (PostgreSQL)",
    "dramatiq": "Dramatiq (Redis)",
    "celery": "Celery (Redis)",
    "procrastinate": "Procrastinate (PostgreSQL)",
    "rq": "RQ (Redis)",
}
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
DATABASES = {
    "sqlite": None,
    "postgresql": "postgresql://postgres@127.0.0.1:5432/postgres",
    "mysql": "mysql://root@127.0.0.1:3306/mysql",
}


class Load(threading.Thread):
    """Samples the load average and the busiest other processes while the benchmarks run."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.others: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(5):
            self.samples.append(os.getloadavg()[0])
            listing = subprocess.run(
                ["ps", "-eo", "pcpu=,pid=,ppid=,args="], capture_output=True, text=True
            ).stdout
            rows = []
            parents: dict[int, int] = {}
            for line in listing.splitlines():
                cpu, pid, ppid, *args = line.split(maxsplit=3)
                parents[int(pid)] = int(ppid)
                rows.append((float(cpu), int(pid), " ".join(args)))
            for cpu, pid, args in rows:
                # The benchmarks' own processes (servers, workers, peers) are not "others".
                if cpu >= 5 and not _descends_from(pid, os.getpid(), parents):
                    key = " ".join(args.split()[:4])[:90]
                    self.others[key] = max(self.others.get(key, 0.0), cpu)


def _descends_from(pid: int, ancestor: int, parents: dict[int, int]) -> bool:
    seen = set()
    while pid not in seen and pid > 1:
        if pid == ancestor:
            return True
        seen.add(pid)
        pid = parents.get(pid, 0)
    return False


def run_json(command: list[str], timeout: float) -> dict[str, Any]:
    print("$", shlex.join(command), file=sys.stderr, flush=True)
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed:\n{done.stderr[-3000:]}")
    last = done.stdout.strip().splitlines()[-1]
    return json.loads(last if last.startswith("{") and last.endswith("}") else done.stdout)


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def ours(url: str | None, args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    """One run of `taskmanager bench`: its figures, and the command that made them."""
    command = [str(OURS), "bench", "--tasks", str(args.tasks), "--workers", str(args.workers)]
    command += ["--json", *extra]
    if url:
        command += ["--database-url", url]
    report = run_json(command, timeout=7200)
    figures: dict[str, Any] = report["runs"][0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=ROOT).stdout.strip()  # fmt: skip
    figures["version"] = f"0.1.0 (commit {commit})"
    figures["command"] = shlex.join(["taskmanager", *command[1:]])
    return figures


def peer(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """One run of a peer's benchmark: its figures, and the command that made them."""
    script = f"benchmarks/peers/peer_{name}.py"
    command = [str(PEERS_PYTHON), script, "--tasks", str(args.tasks)]
    command += ["--workers", str(args.workers)]
    figures = run_json(command, timeout=3600)
    figures["command"] = shlex.join(["benchmarks/.venv/bin/python", *command[1:]])
    return figures


def gathered(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """A system's runs with the median, min and max of each figure over them."""
    numeric = [k for k, v in runs[0].items() if isinstance(v, int | float)]
    return {
        "name": name,
        "version": runs[0].get("version", ""),
        "summary": {k: spread([float(r[k]) for r in runs if k in r]) for k in numeric},
        "runs": runs,
        "command": runs[0]["command"],
    }


def in_rounds(
    systems: Mapping[str, Callable[[], dict[str, Any]]],
    rounds: int,
    report: Callable[[list[dict[str, Any]]], None],
) -> list[dict[str, Any]]:
    """Run every system once per round, in turn; `report` sees the figures after each run."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in systems}
    for _ in range(rounds):
        for name, run in systems.items():
            runs[name].append(run())
            report([gathered(label, done) for label, done in runs.items() if done])
    return [gathered(name, done) for name, done in runs.items()]


def cell(summary: dict[str, Any], key: str, digits: int = 0) -> str:
    value = summary.get(key)
    if not isinstance(value, dict):
        return "–"
    fmt = f"{{:,.{digits}f}}"
    low, high = fmt.format(value["min"]), fmt.format(value["max"])
    return f"{fmt.format(value['median'])} ({low}–{high})"


def median(report: dict[str, Any], key: str) -> float:
    value = report["summary"].get(key)
    return float(value["median"]) if isinstance(value, dict) else float("nan")


def table(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| system | drain tasks/s | steady drain tasks/s | idle latency median ms | "
        "idle latency p90 ms | enqueue 1/request tasks/s | enqueue batched tasks/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s = r["summary"]
        lines.append(
            f"| {r['name']} | {cell(s, 'drain_per_s')} | {cell(s, 'steady_drain_per_s')} | "
            f"{cell(s, 'idle_latency_median_ms', 1)} | {cell(s, 'idle_latency_p90_ms', 1)} | "
            f"{cell(s, 'enqueue_single_per_s')} | {cell(s, 'enqueue_batch_per_s')} |"
        )
    return lines


def targets(results: list[dict[str, Any]], backlog: list[dict[str, Any]]) -> list[str]:
    by = {r["name"]: r for r in results}
    sqlite = by.get("TaskManager (SQLite)")
    if sqlite is None:
        return []
    drain = median(sqlite, "drain_per_s")
    lines = ["| target | measured (medians) | met |", "|---|---|---|"]

    def row(text: str, measured: str, ok: bool) -> None:
        lines.append(f"| {text} | {measured} | {'yes' if ok else '**no**'} |")

    for peer_name, factor in (("PgQueuer (PostgreSQL)", 2), ("Celery (Redis)", 5)):
        if peer_name in by:
            ratio = drain / median(by[peer_name], "drain_per_s")
            row(f"drain ≥ {factor} × {peer_name}", f"{ratio:.2f} ×", ratio >= factor)
    latency = median(sqlite, "idle_latency_median_ms")
    peers = [median(r, "idle_latency_median_ms") for r in results if "TaskManager" not in r["name"]]
    best = min(peers) if peers else float("inf")
    row(
        "idle latency median ≤ 3 ms and below every peer",
        f"{latency:.1f} ms (best peer {best:.1f} ms)",
        latency <= 3 and latency < best,
    )
    batched, single = median(sqlite, "enqueue_batch_per_s"), median(sqlite, "enqueue_single_per_s")
    row("batched enqueue ≥ 20,000 tasks/s", f"{batched:,.0f}/s", batched >= 20000)
    row("one task per request ≥ 1,500 tasks/s", f"{single:,.0f}/s", single >= 1500)
    if len(backlog) == 2:
        small, big = (median(r, "steady_drain_per_s") for r in backlog)
        ratio = big / small
        row(
            f"drain with {median(backlog[1], 'backlog'):,.0f} pending ≥ 80 % "
            f"of with {median(backlog[0], 'backlog'):,.0f}",
            f"{ratio:.0%} (steady {big:,.0f} vs {small:,.0f}/s)",
            ratio >= 0.8,
        )
    if "server_rss_idle_polls_mb" in sqlite["summary"]:
        rss = median(sqlite, "server_rss_idle_polls_mb")
        row("server RSS with 500 idle long polls < 200 MB", f"{rss:.0f} MB", rss < 200)
    return lines


READS = {
    "stats_ms": "GET /stats",
    "list_newest_ms": "GET /tasks",
    "list_completed_ms": "?status=completed",
    "list_pending_of_type_ms": "?status=pending&type=",
    "list_failed_ms": "?status=failed (none)",
}


def reads_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| database | " + " | ".join(READS.values()) + " |", "|---" * (len(READS) + 1) + "|"]
    for r in rows:
        cells = " | ".join(cell(r["summary"], key, 1) for key in READS)
        lines.append(f"| {r['name']} | {cells} |")
    return lines


def machine(load: Load) -> list[str]:
    memory = next(
        line.split()[1]
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    samples = load.samples or [os.getloadavg()[0]]
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    lines = [
        f"- {os.cpu_count()} CPUs ({cpu}), {int(memory) // 1024:,} MiB memory, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
        f"- load average (1 min) while measuring: median {statistics.median(samples):.1f}, "
        f"min {min(samples):.1f}, max {max(samples):.1f} ({len(samples)} samples)",
    ]
    busiest = sorted(load.others.items(), key=lambda item: -item[1])[:8]
    if busiest:
        lines.append(
            "- also running (peak CPU % seen): "
            + "; ".join(f"`{name}` {cpu:.0f} %" for name, cpu in busiest)
        )
    return lines


def write(
    results: list[dict[str, Any]],
    backlog: list[dict[str, Any]],
    load: Load,
    args: argparse.Namespace,
) -> None:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    body = [
        START,
        f"Measured {when} by `python3 benchmarks/run.py {shlex.join(args.argv)}`: "
        f"{args.tasks:,} no-op tasks, {args.workers} worker processes, medians of {args.repeat} "
        "rounds (each system once per round, in turn) with min–max in brackets.",
        "",
        *machine(load),
        "",
        *table(results),
        "",
        *targets(results, backlog),
        "",
        "Server figures of TaskManager (medians):",
        "",
        "| database | server CPU ms/task | workers' CPU ms/task | server RSS peak MB | idle MB |",
        "|---|---|---|---|---|",
        *[
            f"| {r['name']} | {cell(r['summary'], 'server_cpu_ms_per_task', 2)} | "
            f"{cell(r['summary'], 'worker_cpu_ms_per_task', 2)} | "
            f"{cell(r['summary'], 'server_rss_peak_mb')} | "
            f"{cell(r['summary'], 'server_rss_idle_mb')} |"
            for r in results + backlog
            if "TaskManager" in r["name"]
        ],
        "",
        "Reads of TaskManager, after the drain, on the table the run left (medians of 20 calls "
        "each, ms):",
        "",
        *reads_table([r for r in results + backlog if "TaskManager" in r["name"]]),
        "",
        "Versions and exact commands:",
        "",
        *[f"- {r['name']} {r.get('version', '')}: `{r['command']}`" for r in results + backlog],
        END,
    ]
    text = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    DOC.write_text(head + "\n".join(body) + tail)
    (ROOT / "benchmarks" / "results.json").write_text(json.dumps(results + backlog, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--databases", default="sqlite,postgresql,mysql")
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument(
        "--backlog",
        type=int,
        nargs=2,
        default=[10_000, 1_000_000],
        metavar=("SMALL", "BIG"),
        help="the two backlogs to compare (0 0: skip)",
    )
    parser.add_argument("--idle-polls", type=int, default=500)
    args = parser.parse_args()
    args.argv = sys.argv[1:]
    load = Load()
    load.start()
    systems: dict[str, Callable[[], dict[str, Any]]] = {}
    for name in args.databases.split(","):
        extra = ["--idle-polls", str(args.idle_polls)] if name == "sqlite" else []
        label = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MariaDB"}[name]
        systems[f"TaskManager ({label})"] = partial(ours, DATABASES[name], args, extra)
    for name in [] if args.skip_peers else args.peers.split(","):
        systems[PEER_NAMES[name]] = partial(peer, name, args)
    results = in_rounds(systems, args.repeat, lambda done: write(done, [], load, args))
    backlog: list[dict[str, Any]] = []
    if args.backlog[1]:
        sizes = {
            f"TaskManager (SQLite, {size:,} pending)": partial(
                ours, None, args, ["--backlog", str(size)]
            )
            for size in args.backlog
        }
        backlog = in_rounds(sizes, args.repeat, lambda done: write(results, done, load, args))
    load.stop.set()
    write(results, backlog, load, args)
    print(f"wrote {DOC}", file=sys.stderr)


if __name__ == "__main__":
    main()
