"""Benchmark (not a test): the whole pipeline on declared-synthetic cities of growing size.

    python bench/bench_scale.py [--k 2 4 8 18] [--work DIR] [--python PYTHON] [--no-write]
                                [--runs cold,warm,rerun] [--timeout 1800] [--max-rss-gb 20]

SYNTHETIC FIGURES. Each city is the real central-Chengdu OSM extract tiled
k × k with a declared synthetic test registry (``bench/synthetic_city.py``):
not a real city. For every k the city is generated (or reused), then
``servicecircle.run`` runs on it in a fresh child process per run, so each
run's peak RSS is its own (``os.wait4`` of that child):

* ``cold``: empty cache, empty output folder;
* ``warm``: the cache the cold run left (network, analysis, goals), an empty
  output folder, so every file is written again;
* ``rerun``: the cache and the outputs the previous run left: the same study
  area run again, what a planner's second run of the day costs. ``--python`` runs the children with
another interpreter, e.g. a virtual environment holding an older version of
the package, to time "before" against "after".

Printed, and written as JSON and Markdown into the work folder: per-stage
seconds, total, peak RSS, output file sizes and the sizes of what was built,
per k; then each stage's growth exponent from the smallest to the largest k
(log time ratio ÷ log size ratio) against network nodes and against the
stage's own size, flagged above :data:`LINEAR_LIMIT`.

A child run that exceeds ``--max-rss-gb`` or ``--timeout`` is killed and
recorded as such; the benchmark goes on with the next run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DEFAULT_WORK = ROOT / "bench" / "out" / "scale"
#: k = 18 tiles the extract into a city of about 1 M walk-network nodes (see the README's Benchmarks).
DEFAULT_K = (2, 4, 8, 18)
#: A stage growing faster than this power of its size is flagged as superlinear.
LINEAR_LIMIT = 1.15
#: Stage times below this many seconds are timer noise: their exponents are shown but not flagged.
NOISE_SECONDS = 0.5
#: How often the parent samples a child's memory, seconds.
POLL_SECONDS = 0.2
SYNTHETIC_HEADING = "SYNTHETIC — declared synthetic tiled city (the Chengdu OSM extract tiled k×k, test registry); not a real city"
#: A stage's own size, by a word its name contains (stage names differ between code versions).
STAGE_SIZES = (("service area", "facilities"), ("facilit", "facilities"), ("walk time", "origins"),
               ("grid", "cells"), ("communit", "units"), ("goal", "units"), ("gap", "cells"))


def child_main(config_path: Path, result_path: Path, *, cache_dir: Path, out_dir: Path, write: bool) -> None:
    """Run the pipeline once in this process and dump what it measured as JSON.

    Runs under whichever interpreter the parent chose, so it imports the
    ``servicecircle`` that interpreter has installed; nothing of the working
    tree is put on ``sys.path`` here.

    Parameters
    ----------
    config_path : path
        The city's study-area TOML.
    result_path : path
        Where the JSON goes.
    cache_dir, out_dir : path
        Network cache and output folder of this run (replacing the TOML's).
    write : bool
        Write the outputs (``servicecircle.run(write=...)``).
    """
    t0 = time.perf_counter()

    import servicecircle

    imported = time.perf_counter() - t0
    config = servicecircle.load_config(config_path).with_settings(network={"cache_dir": cache_dir}, output={"out_dir": out_dir})
    result = servicecircle.run(config, write=write, progress=False)
    total = time.perf_counter() - t0
    facs = result.facilities
    usable = facs[facs["counted"] & ~facs["off_network"]]
    info = result.network.info
    units = len(result.communities) + (0 if result.streets is None else len(result.streets))
    files = sorted(p for p in Path(out_dir).rglob("*") if p.is_file()) if write else []
    out = {
        "servicecircle": str(Path(servicecircle.__file__).parent),
        "python": sys.executable,
        "import_seconds": round(imported, 3),
        "stages": dict(result.seconds),
        "total_seconds": round(total, 3),
        "sizes": {
            "nodes": int(result.network.n_nodes),
            "edges": int(result.network.n_edges),
            "facilities": int(len(usable)),
            "facilities_by_category": {str(k): int(v) for k, v in usable["category"].value_counts().sort_index().items()},
            "facilities_off_network": int((facs["counted"] & facs["off_network"]).sum()),
            "cells": int(len(result.cells)),
            "populated_cells": int((result.cells["residents"] > 0).sum()),
            "origins": int(len(result.origins)),
            "communities": int(len(result.communities)),
            "units": int(units),
        },
        "network": {key: info.get(key) for key in ("cache", "components", "largest_component_length_share",
                                                   "total_walkable_length_m", "build_seconds")},
        "outputs": {str(p.relative_to(out_dir)): p.stat().st_size for p in files},
    }
    Path(result_path).write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")


def _rss_bytes(pid: int) -> int:
    """Resident memory of a running process (Linux ``/proc``), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def run_child(cmd: list[str], *, log_path: Path, cwd: Path, timeout_s: float, max_rss_gb: float) -> dict:
    """Run one child to its end (or kill it at the guard) and measure it.

    Parameters
    ----------
    cmd : list of str
        The command.
    log_path : path
        The child's stdout and stderr.
    cwd : path
        Its working folder.
    timeout_s, max_rss_gb : float
        Wall-clock and resident-memory limits; beyond either the child is killed.

    Returns
    -------
    dict
        ``status`` (``ok``, ``failed``, ``timeout``, ``memory``), ``wall_seconds``,
        ``peak_rss_gb`` (the child's ``ru_maxrss``), ``exit_code`` and a ``note``.
    """
    limit = max_rss_gb * 1024 ** 3
    t0 = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
        status, why = "ok", ""
        while True:
            pid, wait_status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            elapsed = time.perf_counter() - t0
            rss = _rss_bytes(proc.pid)
            if rss > limit or elapsed > timeout_s:
                status = "memory" if rss > limit else "timeout"
                why = (f"killed by the memory guard at {elapsed:.0f} s, {rss / 1024 ** 3:.1f} GB" if status == "memory"
                       else f"killed at the timeout, {elapsed:.0f} s, {rss / 1024 ** 3:.1f} GB")
                os.kill(proc.pid, signal.SIGKILL)
                _, wait_status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(POLL_SECONDS)
    proc.returncode = os.waitstatus_to_exitcode(wait_status)  # reaped here, not by Popen
    wall = time.perf_counter() - t0
    if status == "ok" and proc.returncode != 0:
        status = "failed"
        tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
        why = f"exit {proc.returncode} at {wall:.0f} s: {tail[0] if tail else ''}"
    # ru_maxrss is in KiB on Linux.
    return {"status": status, "note": why, "exit_code": proc.returncode, "wall_seconds": round(wall, 2),
            "peak_rss_gb": round(usage.ru_maxrss / 1024 ** 2, 3)}


def bench_city(k: int, *, work: Path, python: str, label: str, write: bool, runs: list[str], timeout_s: float,
               max_rss_gb: float, facilities: int | None = None) -> dict:
    """Generate (or reuse) city k, then time each requested run of the pipeline on it in a child process.

    Returns
    -------
    dict
        ``k``, ``city`` (generation figures from ``meta.json``) and ``runs``
        (per run: what :func:`run_child` measured, plus the child's JSON).
    """
    from synthetic_city import generate_city

    # A registry of another size is another city: its own folder, its own runs.
    suffix = "" if facilities is None else f"_f{facilities}"
    cities = work / f"cities{suffix}"
    cities.mkdir(parents=True, exist_ok=True)
    # Generated in a child too, so its time and memory are its own (the generator records them in meta.json).
    extra = [] if facilities is None else ["--facilities", str(facilities)]
    subprocess.run([sys.executable, str(BENCH / "synthetic_city.py"), "--k", str(k), "--out", str(cities), *extra],
                   check=True, stdout=subprocess.DEVNULL)
    city = generate_city(k=k, out_dir=cities, **({} if facilities is None else {"facilities": facilities}))
    meta = city.meta
    run_dir = work / "runs" / label / f"k{k}{suffix}"
    cache_dir, out_dir = run_dir / "cache", run_dir / "out"
    record = {"k": k, "city": {"name": meta["name"], "osm_nodes": meta["written"]["nodes"],
                               "osm_ways": meta["written"]["ways"], "stitch_ways": meta["written"]["stitch_ways"],
                               "registry_rows": meta["registry_rows"], "pbf_bytes": meta["pbf_bytes"],
                               "generation_seconds": meta["seconds"]["total"],
                               "generation_peak_rss_mb": meta["peak_rss_mb"]},
              "runs": {}}
    for run in runs:
        if run == "cold":
            shutil.rmtree(cache_dir, ignore_errors=True)
        if run != "rerun":
            shutil.rmtree(out_dir, ignore_errors=True)
        run_dir.mkdir(parents=True, exist_ok=True)
        result_path = run_dir / f"{run}.json"
        result_path.unlink(missing_ok=True)
        cmd = [python, str(Path(__file__).resolve()), "--child", str(city.config), str(result_path),
               "--cache", str(cache_dir), "--out", str(out_dir)] + ([] if write else ["--no-write"])
        measured = run_child(cmd, log_path=run_dir / f"{run}.log", cwd=run_dir, timeout_s=timeout_s,
                             max_rss_gb=max_rss_gb)
        if measured["status"] == "ok":
            measured.update(json.loads(result_path.read_text(encoding="utf-8")))
        record["runs"][run] = measured
        print(f"  k={k} {run}: {measured['status']} {measured['wall_seconds']:.1f} s, "
              f"{measured['peak_rss_gb']:.2f} GB {measured['note']}", flush=True)
    return record


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _mb(size: float) -> str:
    return f"{size / 1e6:.2f}"


def city_tables(record: dict) -> list[tuple[str, list[list[str]]]]:
    """The per-k tables: stage seconds and memory per run, sizes, output sizes (titles and rows, header first)."""
    runs = record["runs"]
    names = list(runs)
    stages: list[str] = []
    for run in runs.values():
        stages += [s for s in run.get("stages", {}) if s not in stages]
    timing = [["stage"] + [f"{name} s" for name in names]]
    timing += [[stage] + [_seconds(runs[n].get("stages", {}).get(stage)) for n in names] for stage in stages]
    timing.append(["import"] + [_seconds(runs[n].get("import_seconds")) for n in names])
    timing.append(["total (incl. import)"] + [_seconds(runs[n].get("total_seconds")) for n in names])
    timing.append(["process wall"] + [_seconds(runs[n]["wall_seconds"]) for n in names])
    timing.append(["peak RSS GB"] + [f"{runs[n]['peak_rss_gb']:.2f}" for n in names])
    timing.append(["status"] + [(runs[n]["status"] + (f": {runs[n]['note']}" if runs[n]["note"] else "")) for n in names])
    cold = runs.get("cold", {}).get("total_seconds")
    if cold:
        timing.append(["/ cold total"] + [f"{runs[n]['total_seconds'] / cold:.2f}"
                                           if n != "cold" and runs[n].get("total_seconds") else "" for n in names])
    city = record["city"]
    first = next((r for r in runs.values() if r["status"] == "ok"), None)
    sizes = [["what", "count"],
             ["OSM nodes / ways written", f"{city['osm_nodes']:,} / {city['osm_ways']:,}"],
             ["stitch footways", f"{city['stitch_ways']:,}"],
             ["registry rows", f"{city['registry_rows']:,}"],
             ["PBF MB", _mb(city["pbf_bytes"])],
             ["generation s / peak MB", f"{city['generation_seconds']} / {city['generation_peak_rss_mb']:.0f}"]]
    tables = [(f"{SYNTHETIC_HEADING}\n{city['name']}: seconds and memory per run", timing)]
    if first is not None:
        s = first["sizes"]
        share = first["network"].get("largest_component_length_share")
        sizes += [["network nodes / edges", f"{s['nodes']:,} / {s['edges']:,}"],
                  ["largest component, share of walkable length", "–" if share is None else f"{share:.2%}"],
                  ["facilities on the network (all categories)", f"{s['facilities']:,}"]]
        sizes += [[f"  {cat}", f"{n:,}"] for cat, n in s["facilities_by_category"].items()]
        sizes += [["facilities off the network", f"{s['facilities_off_network']:,}"],
                  ["cells / populated", f"{s['cells']:,} / {s['populated_cells']:,}"],
                  ["origins", f"{s['origins']:,}"], ["communities / all units", f"{s['communities']:,} / {s['units']:,}"]]
    tables.append((f"{SYNTHETIC_HEADING}\n{city['name']}: sizes", sizes))
    written = [(n, r) for n, r in runs.items() if r.get("outputs")]
    if written:
        files = sorted({f for _, r in written for f in r["outputs"]})
        rows = [["output file"] + [f"{n} MB" for n, _ in written]]
        rows += [[f] + [_mb(r["outputs"][f]) if f in r["outputs"] else "–" for _, r in written] for f in files]
        tables.append((f"{SYNTHETIC_HEADING}\n{city['name']}: output sizes", rows))
    return tables


def growth_exponent(t_small: float, t_large: float, n_small: float, n_large: float) -> float | None:
    """``log(t_large / t_small) / log(n_large / n_small)``: 1 is linear; None when undefined."""
    if min(t_small, t_large, n_small, n_large) <= 0 or n_large == n_small:
        return None
    return math.log(t_large / t_small) / math.log(n_large / n_small)


def exponent_table(records: list[dict], run: str) -> tuple[str, list[list[str]]] | None:
    """Each stage's growth exponent from the smallest to the largest k whose ``run`` finished."""
    done = [r for r in records if r["runs"].get(run, {}).get("status") == "ok"]
    if len(done) < 2:
        return None
    large = done[-1]["runs"][run]
    rows = [["stage", "from k", "s (small)", "s (large)", "vs nodes", "own size", "vs own size", "flag"]]
    n1 = large["sizes"]["nodes"]
    stages = [s for s in large["stages"] if all(s in r["runs"][run]["stages"] for r in done)]
    items = [(stage, [r["runs"][run]["stages"][stage] for r in done]) for stage in stages]
    items += [("total (incl. import)", [r["runs"][run]["total_seconds"] for r in done]),
              ("peak RSS", [r["runs"][run]["peak_rss_gb"] for r in done])]
    for stage, times in items:
        # The exponent starts at the smallest city where the stage takes longer than timer
        # noise: a ratio to a 0.00 s start says nothing about growth.
        start = next((i for i, t in enumerate(times[:-1]) if t >= NOISE_SECONDS), 0) if stage != "peak RSS" else 0
        small, t0, t1 = done[start]["runs"][run], times[start], times[-1]
        own = next((size for word, size in STAGE_SIZES if word in stage.lower()), None)
        vs_nodes = growth_exponent(t0, t1, small["sizes"]["nodes"], n1)
        vs_own = growth_exponent(t0, t1, small["sizes"][own], large["sizes"][own]) if own else None
        worst = max((e for e in (vs_nodes, vs_own) if e is not None), default=None)
        noisy = max(t0, t1) < NOISE_SECONDS and stage != "peak RSS"
        flag = "noise" if noisy else ("> %.2f" % LINEAR_LIMIT if worst is not None and worst > LINEAR_LIMIT else "")
        rows.append([stage, str(done[start]["k"]), f"{t0:.2f}", f"{t1:.2f}", "–" if vs_nodes is None else f"{vs_nodes:.2f}",
                     own or "", "–" if vs_own is None else f"{vs_own:.2f}", flag])
    n0 = done[0]["runs"][run]["sizes"]["nodes"]
    title = (f"{SYNTHETIC_HEADING}\ngrowth exponents, {run} runs, k={done[0]['k']} → k={done[-1]['k']} "
             f"(nodes {n0:,} → {n1:,}; peak RSS in GB)")
    return title, rows


def render_text(title: str, rows: list[list[str]]) -> str:
    """A table as aligned plain text."""
    widths = [max(len(row[i]) if i < len(row) else 0 for row in rows) for i in range(len(rows[0]))]
    lines = [title] + ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                                 enumerate(zip(row, widths))) for row in rows]
    return "\n".join(lines)


def render_markdown(title: str, rows: list[list[str]]) -> str:
    """A table as Markdown, its title in bold above it."""
    head, *body = rows
    lines = ["**" + title.replace("\n", " — ") + "**", "", "| " + " | ".join(head) + " |",
             "|" + "|".join(["---"] * len(head)) + "|"]
    lines += ["| " + " | ".join(row + [""] * (len(head) - len(row))) + " |" for row in body]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, nargs="+", default=list(DEFAULT_K), help="tiles per side of each city")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="cities, runs and results go here")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the pipeline runs")
    parser.add_argument("--label", help="names this code version in the results (default: current, or the venv's name)")
    parser.add_argument("--facilities", type=int, help="test-registry facilities per category per tile "
                        "(default: the generator's 40; 16 gives the 1 M-node city ~5,200 a category)")
    parser.add_argument("--no-write", action="store_true", help="run without writing the outputs")
    parser.add_argument("--runs", default="cold,warm,rerun", help="comma-separated: cold, warm, rerun")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per child run")
    parser.add_argument("--max-rss-gb", type=float, default=20.0, help="resident memory per child run")
    parser.add_argument("--child", nargs=2, type=Path, metavar=("CONFIG", "RESULT"), help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(*args.child, cache_dir=args.cache, out_dir=args.out, write=not args.no_write)
        return
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    if not runs or set(runs) - {"cold", "warm", "rerun"}:
        parser.error(f"--runs: expected some of cold, warm, rerun, got {args.runs!r}")
    python = str(Path(args.python).absolute())
    # Not resolved: a virtual environment's python is a symlink to the same base interpreter.
    label = args.label or ("current" if python == str(Path(sys.executable).absolute()) else Path(python).parents[1].name)
    work = args.work.resolve()
    load_start = os.getloadavg()
    print(SYNTHETIC_HEADING, flush=True)
    records = []
    for k in sorted(args.k):
        records.append(bench_city(k, work=work, python=python, label=label, write=not args.no_write, runs=runs,
                                  timeout_s=args.timeout, max_rss_gb=args.max_rss_gb, facilities=args.facilities))
    tables = [t for record in records for t in city_tables(record)]
    tables += [t for t in (exponent_table(records, run) for run in runs) if t is not None]
    print()
    print("\n\n".join(render_text(title, rows) for title, rows in tables))
    stem = (f"scale_{label}_{'write' if not args.no_write else 'nowrite'}_k{'-'.join(map(str, sorted(args.k)))}"
            + ("" if args.facilities is None else f"_f{args.facilities}"))
    if runs != ["cold", "warm", "rerun"]:
        stem += "_" + "-".join(runs)
    load = {"start": [round(x, 2) for x in load_start], "end": [round(x, 2) for x in os.getloadavg()]}
    header = {"synthetic": True, "declaration": SYNTHETIC_HEADING, "label": label, "python": python,
              "write": not args.no_write, "runs": runs, "load_average_1_5_15_min": load, "cities": records}
    (work / f"{stem}.json").write_text(json.dumps(header, ensure_ascii=False, indent=1), encoding="utf-8")
    (work / f"{stem}.md").write_text(
        f"# {SYNTHETIC_HEADING}\n\ncode: `{label}` ({python}); outputs written: {'yes' if not args.no_write else 'no'}; "
        f"load average (1, 5, 15 min) at the start {load['start']}, at the end {load['end']}\n\n"
        + "\n\n".join(render_markdown(title, rows) for title, rows in tables) + "\n", encoding="utf-8")
    print(f"\nresults: {work / stem}.json, .md")


if __name__ == "__main__":
    sys.exit(main())
