"""``python -m benchmarks``: one worker loop, every store, one table (issue #7).

    python -m benchmarks [--quick] [--sizes 1000,10000] [--workers 1,2,4] [--budget 20] [--out DIR]

For each store size N and worker count W, each contender (see ``benchmarks/contenders.py``)
gets a fresh store with N trials registered (untimed), then W workers (processes; threads
for stores that live in this process) are released together and loop, one trial at a time,
reserve -> heartbeat -> push results -> complete until none is pending (Optuna: ask -> tell
until the study holds N trials). A run that exceeds the time budget is stopped and its
row says so; its rate is over the trials it finished.

Columns: trials/s = trials completed / wall time of the slowest worker; ms/trial p50 and
p99 = one trial's latency in one worker. The machine's limit = durable appends per second
(flock + append of a trial-sized line + fdatasync + unlock, ``jsonfile_scaling.MachineLimit``),
measured in the same run and folder; "% limit" = the durable JSON store's fdatasync'd
writes per second (4 per trial) as a fraction of it.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.contenders import PROCESSES, Contender, all_contenders

HERE = Path(__file__).resolve().parent
COLUMNS = [
    "contender",
    "mode",
    "size",
    "workers",
    "completed",
    "seconds",
    "trials_per_s",
    "p50_ms",
    "p99_ms",
    "pct_limit",
    "note",
]


# ---------------------------------------------------------------- one run


def _loop(contender: Contender, state: dict[str, Any], share: int, budget: float, start: Any) -> dict[str, Any]:
    handle = contender.open(state, share)
    try:
        start.wait()
        began = time.perf_counter()
        deadline = began + budget
        latencies: list[float] = []
        errors: list[str] = []
        stopped = False
        while True:
            if time.perf_counter() > deadline:
                stopped = True
                break
            t0 = time.perf_counter()
            try:
                if not contender.step(handle, state):
                    break
            except Exception as exc:  # a conflict the store reported: counted, then go on (at most 20)
                errors.append(f"{type(exc).__name__}: {exc}"[:120])
                if len(errors) >= 20:
                    break
                continue
            latencies.append(time.perf_counter() - t0)
        return {"latencies": latencies, "elapsed": time.perf_counter() - began, "stopped": stopped, "errors": errors}
    finally:
        contender.close(handle)


def _process_main(
    contender: Contender, state: dict[str, Any], share: int, budget: float, start: Any, results: Any
) -> None:
    try:
        results.put(_loop(contender, state, share, budget, start))
    except BaseException as exc:
        start.abort()
        results.put({"failed": f"{type(exc).__name__}: {exc}"})
        raise


def _shares(size: int, workers: int) -> list[int]:
    return [size // workers + (1 if i < size % workers else 0) for i in range(workers)]


def run_one(contender: Contender, folder: str, size: int, workers: int, budget: float) -> dict[str, Any]:
    state = contender.prepare(folder, size)
    try:
        if contender.mode == PROCESSES:
            context = multiprocessing.get_context("spawn")
            start, queue = context.Barrier(workers + 1), context.Queue()
            procs = [
                context.Process(target=_process_main, args=(contender, state, share, budget, start, queue), daemon=True)
                for share in _shares(size, workers)
            ]
            for proc in procs:
                proc.start()
            start.wait(timeout=120)
            outcomes = [queue.get(timeout=budget + 300) for _ in procs]
            for proc in procs:
                proc.join(timeout=30)
        else:
            start = threading.Barrier(workers + 1)
            outcomes = []
            threads = [
                threading.Thread(
                    target=lambda s=share: outcomes.append(_loop(contender, state, s, budget, start)), daemon=True
                )
                for share in _shares(size, workers)
            ]
            for thread in threads:
                thread.start()
            start.wait(timeout=120)
            for thread in threads:
                thread.join()
    finally:
        contender.cleanup(state)
    failed = [o["failed"] for o in outcomes if "failed" in o]
    if failed:
        raise RuntimeError(failed[0])
    latencies = sorted(lat for o in outcomes for lat in o["latencies"])
    elapsed = max(o["elapsed"] for o in outcomes)
    errors = [e for o in outcomes for e in o["errors"]]
    notes = []
    if any(o["stopped"] for o in outcomes):
        notes.append(f"stopped by the {budget:g} s budget after {len(latencies)}/{size} trials")
    if len(latencies) > size:
        notes.append(f"{len(latencies) - size} trials completed twice (double reservations)")
    if errors:
        notes.append(f"{len(errors)} errors, first: {errors[0]}")
    return {
        "completed": len(latencies),
        "seconds": elapsed,
        "trials_per_s": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else float("nan"),
        "note": "; ".join(notes),
    }


# ---------------------------------------------------------------- the machine's limit


def machine_limit(folder: str, count: int) -> list[float]:
    """``count`` timings of a durable append: flock + append 690 B + fdatasync + unlock."""
    from benchmarks.jsonfile_scaling import MachineLimit

    limit = MachineLimit(folder, 690)  # about one trial's journal line
    try:
        for _ in range(count):
            limit()
        return limit.samples
    finally:
        limit.close()


# ---------------------------------------------------------------- round trips


def round_trips(repeat: int) -> str:
    """The MongoDB engine's round trips per protocol call (``benchmarks/roundtrips.py``), as text."""
    import importlib.util

    uri = os.environ.get("DOCSTORE_BENCH_MONGODB_URI")
    if uri is None and importlib.util.find_spec("secantus") is None:
        return "round trips per protocol call: skipped (neither secantus nor $DOCSTORE_BENCH_MONGODB_URI)"
    from benchmarks.roundtrips import format_table, measure

    where = "$DOCSTORE_BENCH_MONGODB_URI" if uri else "SecantusDB in this process"
    rows = measure(uri, repeat=repeat)
    return (
        f"round trips per protocol call, MongoDB engine ({where}; pymongo CommandListener; p50 of {repeat}):\n"
        + format_table(rows)
    )


# ---------------------------------------------------------------- output


def _cell(row: dict[str, Any], column: str) -> str:
    value = row.get(column, "")
    if value == "" or value is None:
        return ""
    if column == "seconds":
        return f"{value:.2f}"
    if column == "trials_per_s":
        return f"{value:.0f}" if value >= 10 else f"{value:.2f}"
    if column in ("p50_ms", "p99_ms"):
        return f"{value:.2f}"
    if column == "pct_limit":
        return f"{value:.0%}"
    return str(value)


HEADERS = {
    "contender": "contender",
    "mode": "mode",
    "size": "trials",
    "workers": "W",
    "completed": "done",
    "seconds": "wall s",
    "trials_per_s": "trials/s",
    "p50_ms": "ms/trial p50",
    "p99_ms": "p99 ms",
    "pct_limit": "% limit",
    "note": "note",
}


def print_table(rows: list[dict[str, Any]]) -> None:
    cells = [[HEADERS[c] for c in COLUMNS]] + [[_cell(r, c) for c in COLUMNS] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS) - 1)]
    for n, line in enumerate(cells):
        text = "  ".join(
            cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths, strict=False))
        )
        print(f"{text}  {line[-1]}".rstrip(), flush=True)
        if n == 0:
            print("-" * (sum(widths) + 2 * len(widths) + 4))


def write_markdown(path: Path, rows: list[dict[str, Any]], header: str) -> None:
    lines = [
        header,
        "",
        "| " + " | ".join(HEADERS[c] for c in COLUMNS) + " |",
        "|" + "|".join("---" if c in ("contender", "mode", "note") else "---:" for c in COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(_cell(r, c).replace("|", "\\|") for c in COLUMNS) + " |" for r in rows]
    path.write_text("\n".join(lines) + "\n")


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in COLUMNS})


def plot(folder: Path, rows: list[dict[str, Any]]) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plots (pip install matplotlib)")
        return []
    measured = [r for r in rows if r.get("completed")]
    fewest = min((r["workers"] for r in measured), default=1)
    largest = max((r["size"] for r in measured), default=0)
    by_size = _series(measured, "size", "p50_ms", workers=fewest)
    by_workers = _series(measured, "workers", "trials_per_s", size=largest)
    return [
        _chart(
            plt,
            folder / "time_per_trial_vs_size.png",
            by_size,
            xscale="log",
            yscale="log",
            xlabel="trials in the store",
            ylabel="ms per trial (p50, one worker's loop)",
            title=f"Time per trial vs store size ({fewest} worker{'s' if fewest > 1 else ''})",
        ),
        _chart(
            plt,
            folder / "throughput_vs_workers.png",
            by_workers,
            xticks=sorted({r["workers"] for r in measured}),
            yscale="log",
            xlabel="workers (processes; threads for in-process stores)",
            ylabel="trials/s",
            title=f"Throughput vs workers ({largest} trials)",
        ),
    ]


def _series(rows: list[dict[str, Any]], x: str, y: str, **where: Any) -> dict[str, list[tuple[Any, Any]]]:
    """Per contender (in the order of the rows), its ``(x, y)`` points sorted, of the rows matching ``where``."""
    names = dict.fromkeys(r["contender"] for r in rows)
    matching = [r for r in rows if all(r[k] == v for k, v in where.items())]
    return {name: sorted((r[x], r[y]) for r in matching if r["contender"] == name) for name in names}


def _chart(
    plt: Any, path: Path, series: dict[str, list[tuple[Any, Any]]], xticks: list[int] | None = None, **axes: Any
) -> Path:
    """One chart, a line per contender that has points, saved to ``path``; ``axes`` go to ``Axes.set``."""
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, points in series.items():
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=name)
    ax.set(**axes)
    if xticks is not None:
        ax.set_xticks(xticks)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


# ---------------------------------------------------------------- main


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 trials, 1 and 2 workers, 3 s budget")
    parser.add_argument("--sizes", type=_ints, default=None, help="store sizes (default 1000,10000,100000)")
    parser.add_argument("--workers", type=_ints, default=None, help="worker counts (default 1,2,4)")
    parser.add_argument("--budget", type=float, default=None, help="seconds per run before it is stopped (default 10)")
    parser.add_argument("--only", default=None, help="comma-separated substrings: run only matching contenders")
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for the .md, .csv and .png files")
    parser.add_argument(
        "--no-roundtrips", action="store_true", help="skip the round trips per protocol call (MongoDB engine)"
    )
    args = parser.parse_args(argv)
    sizes = args.sizes or ([200] if args.quick else [1000, 10000, 100000])
    workers = args.workers or ([1, 2] if args.quick else [1, 2, 4])
    budget = args.budget or (3.0 if args.quick else 10.0)
    command = "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    contenders = all_contenders()
    if args.only:
        wanted = [w.strip() for w in args.only.split(",")]
        contenders = [c for c in contenders if any(w in c.name for w in wanted)]
    header = (
        f"$ {command.strip()}\n\npython {platform.python_version()}, {os.cpu_count()} CPUs "
        f"({platform.machine()}, {platform.system()} {platform.release()}), sizes {sizes}, workers {workers}, "
        f"budget {budget:g} s per run"
    )
    print(header, flush=True)
    rows: list[dict[str, Any]] = []
    folder = tempfile.mkdtemp(prefix="docstore-bench-", dir=os.environ.get("DOCSTORE_BENCH_DIR"))
    try:
        samples = machine_limit(folder, 100 if args.quick else 300)  # measured again after the runs
        limit = 1.0 / statistics.median(samples)
        print(f"machine's limit (before the runs): {limit:.0f} durable appends/s\n", flush=True)
        available = []
        for contender in contenders:
            reason = contender.unavailable()
            if reason:
                rows.append({"contender": contender.name, "mode": contender.mode, "note": f"skipped: {reason}"})
            else:
                available.append(contender)
        for size in sizes:
            for n in workers:
                for contender in available:
                    row: dict[str, Any] = {
                        "contender": contender.name,
                        "mode": contender.mode,
                        "size": size,
                        "workers": n,
                    }
                    if contender.max_size is not None and size > contender.max_size:
                        if n == workers[0]:  # one row per size says why
                            del row["workers"]
                            row["note"] = f"not run above {contender.max_size} trials: {contender.too_large}"
                            rows.append(row)
                        continue
                    run_folder = tempfile.mkdtemp(dir=folder)
                    try:
                        row.update(run_one(contender, run_folder, size, n, budget))
                    except Exception as exc:
                        row["note"] = f"failed: {type(exc).__name__}: {exc}"[:200]
                    finally:
                        shutil.rmtree(run_folder, ignore_errors=True)
                    if contender.durable_writes_per_trial and row.get("trials_per_s"):
                        row["pct_limit"] = row["trials_per_s"] * contender.durable_writes_per_trial / limit
                    rows.append(row)
                    print(
                        f"  measured: {contender.name}, {size} trials, {n} workers: "
                        f"{_cell(row, 'trials_per_s') or '-'} trials/s {row.get('note', '')}",
                        flush=True,
                    )
        samples += machine_limit(folder, 100 if args.quick else 300)
        limit = 1.0 / statistics.median(samples)
        for row in rows:
            if "pct_limit" in row:
                row["pct_limit"] = row["trials_per_s"] * 4 / limit
        # skipped rows last, each once
        rows.sort(key=lambda r: ("size" not in r, r.get("size", 0), r.get("workers", 0)))
        print()
        print_table(rows)
        footer = (
            f"machine's limit: {limit:.0f} durable appends/s (flock + append 690 B + fdatasync + unlock, median of "
            f"{len(samples)} timed before and after the runs); '% limit' = the durable JSON store's "
            "4 fdatasync'd writes per trial (reserve, heartbeat, results, completion) per second / that limit"
        )
        print(f"\n{footer}")
        out.mkdir(parents=True, exist_ok=True)
        write_markdown(out / "results.md", rows, header + "\n\n" + footer)
        if not args.no_roundtrips:
            trips = round_trips(repeat=5 if args.quick else 50)
            print(f"\n{trips}")
            with (out / "results.md").open("a") as f:
                f.write(f"\n```\n{trips}\n```\n")
        write_csv(out / "results.csv", rows)
        written = plot(out, rows)
        print(f"\nwrote {out / 'results.md'}, {out / 'results.csv'}" + "".join(f", {p}" for p in written))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0
