"""Command-line tool: ``servicecircle run CONFIG.toml``. It only wires the stages together."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .coords import SYSTEMS

if TYPE_CHECKING:  # for annotations only: the command line imports the analysis when it runs
    from .config import Config
    from .results import RunResult
    from .siting import CapacityPlan, SitingResult

DESCRIPTION = """\
Measure the 15-minute service circle (一刻钟服务圈) of a study area: who can walk
to an elder-care centre (养老服务), an elderly canteen (老年助餐) and a nursery
(托育) within 5, 10 and 15 minutes, per H3 cell and per community.

A study area is described by a TOML file; see data/chengdu.toml for a
commented example. Results go to one folder per run (default maps/<area>/):
  index.html          report page: goals, scorecard, charts, methods, and the map
  map.html            interactive map of walk times, gaps, facilities, communities
  servicecircle.gpkg  layers facilities, service_areas, cells, communities
  communities.csv     one row per community
  summary.json        headline figures (coverage shares, facility counts, speed)
"""

EXAMPLES = """\
examples:
  servicecircle run data/chengdu.toml
  servicecircle template registry.xlsx
  servicecircle run data/chengdu.toml --out /tmp/chengdu --speed-profile elderly
  servicecircle run data/hexi.toml --cdn --basemap amap --lang en
"""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", metavar="CONFIG.toml", help="study-area settings file")
    p.add_argument("--out", metavar="DIR", help="output folder (overrides [output] dir)")
    p.add_argument("--speed-profile", choices=["default", "elderly"],
                   help="walking speed: default 1.0 m/s, elderly 0.8 m/s (overrides [access])")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--refresh", action="store_true",
                   help="refetch web-map POI searches and geocoding instead of their cache")
    p.add_argument("--recompute", action="store_true",
                   help="compute every stage and write every file again, reusing nothing a run with the same "
                        "inputs cached (the walk network still comes from its own cache)")
    p.add_argument("--lang", choices=["zh", "en"], help="language of the report page and map (overrides [output] lang)")
    pages = p.add_mutually_exclusive_group()
    pages.add_argument("--cdn", action="store_true",
                       help="load the map library (Leaflet) from its CDN: smaller pages that need the internet "
                            "(default: self-contained pages, for intranets without internet)")
    pages.add_argument("--offline", action="store_true",
                       help="self-contained pages, the map library inlined (the default; overrides [output] offline)")
    p.add_argument("--basemap", choices=["osm", "amap", "tencent", "none"],
                   help="map tiles (overrides [output] basemap); amap/tencent are GCJ-02, overlays shifted to match")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="servicecircle", description=DESCRIPTION, epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    r = sub.add_parser("run", help="run the analysis for one study area", description=DESCRIPTION,
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(r)
    s = sub.add_parser("site", help="recommend sites for new facilities of one category",
                       description="Run the analysis, then recommend where new facilities of one category cover "
                                   "the most residents not yet within the coverage threshold (existing kept).",
                       epilog=SITE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(s)
    s.add_argument("--category", required=True, help="facility category, e.g. elder_care, canteen, nursery")
    how = s.add_mutually_exclusive_group(required=True)
    how.add_argument("--add", type=int, metavar="K", help="number of new sites")
    how.add_argument("--target", type=float, metavar="SHARE", help="fewest new sites reaching this covered share (0–1)")
    s.add_argument("--weight", default="residents", choices=["residents", "60plus", "young"],
                   help="demand to cover: all residents, aged 60+, or small children (0–3, else 0–4)")
    s.add_argument("--candidates", metavar="FILE", help="candidate sites (points or polygons); default: the network")
    s.add_argument("--candidates-coord-system", default="wgs84", choices=SYSTEMS)
    s.add_argument("--exclude", metavar="FILE", help="polygons where no site may go")
    s.add_argument("--exclude-coord-system", default="wgs84", choices=SYSTEMS)
    s.add_argument("--spacing", type=float, default=100.0, metavar="M",
                   help="network candidates every M metres of street (default 100)")
    c = sub.add_parser("capacity", help="where added beds or places serve the most unmet demand",
                       description="Run the analysis, then split the unmet need for one category's capacity "
                                   "(beds, nursery places, meals) among the facilities that can serve it, and "
                                   "list the need no facility reaches, per community.")
    _common(c)
    c.add_argument("--category", required=True, help="facility category with a capacity, e.g. nursery, elder_care")
    c.add_argument("--per-1000", type=float, metavar="N",
                   help="the standard per 1,000 of the group (default: the category's capacity_per_1000 goal)")
    c.add_argument("--group", choices=["all", "60plus", "young", "0_3", "0_4"],
                   help="the population the standard counts (default: the goal's)")
    cp = sub.add_parser("compare", help="what changed between two runs, per street and community",
                        description="Compare two run output folders (before, after): covered shares per street and "
                                    "community, goals newly met or no longer met, blind spots closed or new. "
                                    "Writes compare.xlsx and compare.html.",
                        epilog="examples:\n  servicecircle compare maps/hexi_2025 maps/hexi_2026\n"
                               "  servicecircle compare maps/today maps/with_new_centres --out maps/compare --lang en",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    cp.add_argument("run_a", metavar="RUN_A", help="output folder of the earlier run (before)")
    cp.add_argument("run_b", metavar="RUN_B", help="output folder of the later run (after)")
    cp.add_argument("--out", metavar="DIR", help="where to write (default: RUN_B/compare)")
    cp.add_argument("--lang", choices=["zh", "en"], default="zh", help="language of the page and workbook")
    tm = sub.add_parser("template", help="write a fill-in facility registry template (.xlsx or .csv)",
                        description="Write a registry template with the headers the reader recognises and one "
                                    "example row (its name begins with 示例: it is skipped when read, until "
                                    "rewritten as a real facility). The .xlsx has a sheet of instructions too.",
                        epilog="examples:\n  servicecircle template registry.xlsx\n"
                               "  servicecircle template registry.csv --lang en",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    tm.add_argument("file", metavar="FILE", help="the template to write, .xlsx or .csv")
    tm.add_argument("--lang", choices=["zh", "en"], default="zh", help="language of the headers and instructions")
    tm.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    b = sub.add_parser("batch", help="score many districts at once on Dask (one task per district)",
                       description="Run a base study-area config on each district of a batch file, its polygon "
                                   "buffered by the longest walk, clipped back and merged; finished districts "
                                   "are reused on a rerun.",
                       epilog="examples:\n  servicecircle batch city.toml\n  servicecircle batch city.toml --serial\n"
                              "  servicecircle batch city.toml --scheduler tcp://10.0.0.5:8786",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("batch_file", metavar="BATCH.toml", help="batch file with a [batch] table")
    where = b.add_mutually_exclusive_group()
    where.add_argument("--serial", action="store_true", help="no Dask: the districts one after another")
    where.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler (default: a LocalCluster)")
    b.add_argument("--workers", type=int, metavar="N", help="LocalCluster workers (default: the cores)")
    b.add_argument("--lang", choices=["zh", "en"], default="zh", help="language of the console messages")
    return p


def write_comparison(args: argparse.Namespace) -> int:
    """``servicecircle compare RUN_A RUN_B``: read both folders, write compare.xlsx and compare.html."""
    from . import compare, texts

    before, after = compare.read_run(args.run_a), compare.read_run(args.run_b)
    out = Path(args.out) if args.out else Path(args.run_b) / "compare"
    files = compare.write_comparison(compare.compare(before, after), out, lang=args.lang)
    for path in files.values():
        print(texts.text(args.lang, "compare.wrote", path=path))
    return 0


def run_batch_command(args: argparse.Namespace) -> int:
    """``servicecircle batch``: 0 when every district finished, 1 when some failed."""
    from . import batch

    outcome = batch.run_batch(batch.load_batch(args.batch_file), serial=args.serial, scheduler=args.scheduler,
                              workers=args.workers, lang=args.lang)
    return 1 if outcome["failed"] else 0


def write_registry_template(args: argparse.Namespace) -> int:
    """``servicecircle template FILE``: write the template, print where and the config lines that read it."""
    from . import registries, sheets, texts
    from .config import CORE_CATEGORIES, DEFAULT_CATEGORIES

    labels = {k: DEFAULT_CATEGORIES[k]["label"] for k in CORE_CATEGORIES}
    path = sheets.write_template(Path(args.file), lang=args.lang, category_words=registries.category_words(labels),
                                 labels=labels, overwrite=args.force)
    print(texts.text(args.lang, "template.wrote", path=path, n=len(sheets.TEMPLATE_COLUMNS)))
    print(f'\n[[facilities.registries]]\nfile = "{path.name}"\ncoord_system = "gcj02"')
    return 0


SITE_EXAMPLES = """\
examples:
  servicecircle site data/chengdu.toml --category nursery --add 5
  servicecircle site data/hexi.toml --category elder_care --target 0.9 --weight 60plus
  servicecircle site data/hexi.toml --category canteen --add 3 --candidates vacant.geojson \\
      --candidates-coord-system gcj02 --exclude parks.geojson
"""


def overrides_of(args: argparse.Namespace) -> dict[str, dict]:
    """The command line's options as keys of the study-area file, read and checked as if it held them.

    So ``--speed-profile`` sets ``[access] speed_profile`` and, like that key, leaves a category's own
    ``speed_m_s`` alone; the profile's speed replaces the file's ``[access] speed_m_s`` (None removes a key).
    """
    output: dict = {}
    if args.out:
        output["dir"] = str(Path(args.out).resolve())
    if args.lang:
        output["lang"] = args.lang
    if args.offline or args.cdn:
        output["offline"] = not args.cdn
    if args.basemap:
        output["basemap"] = args.basemap
    access = {"speed_profile": args.speed_profile, "speed_m_s": None} if args.speed_profile else {}
    return {name: table for name, table in (("output", output), ("access", access)) if table}


class WordedLog(logging.Formatter):
    """Console log lines in the run's language: a record logged with ``extra=texts.logged(key, …)`` is worded
    from the catalogue (others keep their own message); the level word is the language's."""

    def __init__(self, lang: str):
        super().__init__()
        self.lang = lang

    def format(self, record: logging.LogRecord) -> str:
        from . import texts

        key = getattr(record, "text_key", None)
        message = texts.text(self.lang, key, **getattr(record, "text_values", {})) if key else record.getMessage()
        level = texts.text(self.lang, "log.warning") if record.levelno == logging.WARNING else record.levelname
        return f"{level}{'：' if self.lang == 'zh' else ': '}{message}"


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (0 ok, 2 bad input)."""
    from . import texts
    from .errors import ServiceCircleError

    args = _parser().parse_args(argv)
    # Commands that read no study-area file of their own.
    standalone = {"template": write_registry_template, "compare": write_comparison, "batch": run_batch_command}
    if args.command in standalone:
        try:
            return standalone[args.command](args)
        except ServiceCircleError as exc:
            print(texts.text(args.lang, "console.error", error=exc.worded(args.lang)), file=sys.stderr)
            return 2
    if args.command not in ("run", "site", "capacity"):
        _parser().print_help()
        return 2
    lang = args.lang or "zh"  # the settings file's, once it is read
    worded = WordedLog(lang)
    handler = logging.StreamHandler()
    handler.setFormatter(worded)
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    try:
        from .config import load_config

        config = load_config(args.config, overrides=overrides_of(args))
        lang = worded.lang = config.output.lang
        _check_command(args, config)
        from .pipeline import run  # after the settings are checked: a bad file is reported at once

        if args.refresh:  # refetch every POI search; the cached analysis would hide the new POIs
            refetched = tuple(dataclasses.replace(w, refresh=True) for w in config.facilities.webmap)
            geo = config.facilities.geocoder
            geo = dataclasses.replace(geo, refresh=True) if geo is not None else None
            config = dataclasses.replace(config, facilities=dataclasses.replace(config.facilities, webmap=refetched,
                                                                                geocoder=geo))
        result = run(config, progress=not args.quiet, reuse=not (args.recompute or args.refresh))
        report_command = _after_run(args, result)
    except ServiceCircleError as exc:
        print(texts.text(lang, "console.error", error=exc.worded(lang)), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(texts.text(lang, "console.interrupted"), file=sys.stderr)
        return 130
    _print_summary(result)
    report_command()
    return 0


def _check_command(args: argparse.Namespace, config: Config) -> None:
    """The command's own arguments, checked before the run (a bad one is reported at once)."""
    from .errors import InputError

    if args.command in ("site", "capacity") and args.category not in config.categories:
        raise InputError(key="error.unknown_category_have", category=repr(args.category),
                         have=", ".join(config.categories))
    if args.command == "site":
        if args.add is not None and args.add < 1:
            raise InputError(key="error.add_at_least_one", value=args.add)
        if args.target is not None and not 0 < args.target <= 1:
            raise InputError(key="error.target_share", value=args.target)


def _after_run(args: argparse.Namespace, result: RunResult) -> Callable[[], None]:
    """What ``site`` or ``capacity`` does after the run; returns what it prints after the run's summary."""
    if args.command == "site":
        from .pipeline import site_and_write

        siting = site_and_write(result, category=args.category, add=args.add, target=args.target,
                                weight=args.weight, candidates_file=args.candidates,
                                candidates_coord_system=args.candidates_coord_system, spacing_m=args.spacing,
                                exclude_file=args.exclude, exclude_coord_system=args.exclude_coord_system)
        return lambda: _print_siting(siting, result.config.output.lang)
    if args.command == "capacity":
        from .pipeline import capacity_plan_and_write

        plan = capacity_plan_and_write(result, category=args.category, per_1000=args.per_1000, group=args.group)
        return lambda: _print_capacity_plan(plan, result.config.output.lang)
    return lambda: None


def _print_capacity_plan(plan: CapacityPlan, lang: str = "zh") -> None:
    from . import texts

    info = plan.info
    print("\n" + texts.text(lang, "console.capacity", category=plan.category,
                            capacity=texts.capacity_word(lang, plan.capacity),
                            per_1000=info["per_1000"], group=_demand_words(lang, info["demand"], info["group"]),
                            now=info["capacity_now"], n=info["facilities"], shortfall=info["district_shortfall"],
                            reached=info["need_reached"], unreached=info["need_unreached"]))
    for r in plan.facilities.head(10).itertuples(index=False):
        if r.to_add > 0:
            print(f"  +{r.to_add:,}  {r.name or r.facility_id}")
    for path in plan.info.get("files", {}).values():
        print("  " + texts.text(lang, "console.wrote", path=path))


def _demand_words(lang: str, column: str, group: str | None) -> str:
    """Who a demand column counts (``residents_60plus``), in words of ``lang``; says so when a wanted age
    group fell back to all residents for want of age data."""
    from . import texts

    key = "console.demand_" + (column.removeprefix("residents").strip("_") or "all")
    words = texts.text(lang, key) if key in texts.TEXTS else column
    if column == "residents" and group not in (None, "all", "residents"):
        words += texts.text(lang, "console.demand_no_ages")
    return words


def _print_siting(res: SitingResult, lang: str = "zh") -> None:
    from . import texts

    info = res.info
    print("\n" + texts.text(lang, "console.siting", category=res.category,
                            weight=_demand_words(lang, res.weight_column, None),
                            limit=info["limit_m"], n=len(res.sites), before=info["covered_share_before"],
                            after=info["covered_share_after"], candidates=info["candidates"],
                            ms=info["greedy_s"] * 1000))
    for r in res.sites.itertuples(index=False):
        print(f"  {r.rank:>3}. {r.lon:.6f}, {r.lat:.6f}  +{getattr(r, 'new_' + res.weight_column + '_covered'):,.0f}  "
              f"→ {r.covered_share_after:.1%}  {r.street} {r.community} {r.nearest_road}".rstrip())
    if "exact_covered" in info:
        print("  " + texts.text(lang, "console.exact", share=info["greedy_over_optimal"], s=info["exact_s"]))
    for path in res.info.get("files", {}).values():
        print("  " + texts.text(lang, "console.wrote", path=path))


def _print_summary(result: RunResult) -> None:
    from . import texts

    s = result.summary
    lang = result.config.output.lang
    print("\n" + texts.text(lang, "console.headline", area=s["area"], residents=s["population_total"],
                            cells=s["cells_populated"], res=s["h3_resolution"], speed=s["speed_m_s"],
                            minutes=s["coverage_threshold_min"]))
    _print_categories(s, lang)
    _print_off_network(result)
    _print_checks(s, lang)
    _print_inputs_and_files(result)


#: Off-network facilities named on the console; the rest are counted (every one is in input_report.csv).
CONSOLE_OFF_NETWORK = 10


def _print_off_network(result: RunResult) -> None:
    from . import texts

    lang = result.config.output.lang
    off = result.facilities[result.facilities["off_network"].to_numpy(bool)]
    if not len(off):
        return
    off = off.sort_values("snap_offset_m", ascending=False, kind="stable")
    print("  " + texts.text(lang, "facility.off_network_console", n=len(off)))
    for f in off.head(CONSOLE_OFF_NETWORK).itertuples(index=False):
        print(f"    {f.category:<14} {f.name or f.facility_id}  {f.snap_offset_m:,.0f} m")
    if len(off) > CONSOLE_OFF_NETWORK:
        print("    " + texts.text(lang, "facility.off_network_more", n=len(off) - CONSOLE_OFF_NETWORK))


def _print_categories(s: dict, lang: str = "zh") -> None:
    from . import texts

    def t(key: str, /, **values: object) -> str:
        return texts.text(lang, "console." + key, **values)

    for key, c in s["categories"].items():
        share = c["population_covered_share"]
        pct = t("na") if share is None else f"{share:.1%}"
        print("  " + t("category", key=key, n=c["facilities"], pct=pct, note=c["note"]))
        groups = [(g, c[f"population_covered_share_{g}"]) for g in s.get("population_by_age_group", {})]
        if groups and c["facilities"]:
            print(" " * 18 + "  ".join(t("aged", group=g.replace("plus", "+").replace("_", "–"), share=v)
                                       for g, v in groups if v is not None))
        fca = c.get("capacity_access")
        if fca and fca["facilities_used"]:
            print(" " * 18 + t("fca", decay=fca["decay"], value=fca["district_per_1000"], unit=fca["unit"])
                  + (texts.text(lang, "summary.join") + fca["note"] if fca.get("note") else ""))
        if c.get("blind_spots"):
            top = c["largest_blind_spots"][0]
            walk = top["nearest_walk_min"]
            print(" " * 18 + t("blind", n=c["blind_spots"], residents=c["blind_spot_residents"], top=top["residents"],
                               cells=top["cells"],
                               walk=t("no_facility") if walk is None else t("walk_from", walk=walk)))
    areas = s.get("service_areas")
    if areas:
        print(f"  {areas['method_note']}{texts.text(lang, 'summary.join')}{areas['note']}")


def _print_checks(s: dict, lang: str = "zh") -> None:
    from . import texts

    def t(key: str, /, **values: object) -> str:
        return texts.text(lang, "console." + key, **values)

    comp = s["complete_circle_share"]
    print("  " + t("complete", categories=" + ".join(s["complete_circle_categories"]),
                   share=t("na") if comp is None else f"{comp:.1%}"))
    adj = s.get("health_adjacency")
    if adj:
        if adj.get("checked"):
            print("  " + t("adjacency", adjacent=adj["adjacent"], checked=adj["checked"], care=adj["care_category"],
                           walk=adj["max_walk_min"], health=adj["health_category"], not_adjacent=adj["not_adjacent"])
                  + (f" ({adj['note']})" if adj.get("note") else ""))
        else:
            print("  " + t("adjacency_note", note=adj["note"]))
    goals = s.get("goals", [])
    if goals:
        failed = [g for g in goals if g["passed"] is False]
        print("  " + t("goals", met=sum(1 for g in goals if g["passed"] is True), rows=len(goals), failed=len(failed),
                       unknown=sum(1 for g in goals if g["passed"] is None),
                       binding=sum(1 for g in failed if g["kind"] == "binding")))
        for g in failed:
            if g["kind"] == "binding":
                print(f"    ✘ {g['goal_name']} [{g['meaning'].split(':')[0].split('：')[0]}]: {g['gap_text']}")


def _print_inputs_and_files(result: RunResult) -> None:
    from . import texts

    lang = result.config.output.lang

    def t(key: str, /, **values: object) -> str:
        return texts.text(lang, "console." + key, **values)

    s = result.summary
    for reg in s.get("registries", []):
        if "webmap" in reg:  # a POI search: counts per category
            print("  " + t("webmap", service=reg["webmap"], date=reg["fetched_on"], requests=reg["requests"]))
            for row in reg["categories"]:
                words = "".join(f": {w} ×{n}" if not k else f", {w} ×{n}"
                                for k, (w, n) in enumerate(row.get("excluded_by", {}).items()))
                print("  " + t("webmap_category", **{**row, "words": words}))
            continue
        print("  " + t("registry", file=reg["file"], n=reg["rows_used"], coord=reg["coord_system"]))
        if reg["warning"]:
            print("  " + t("warning", text=reg["warning"]))
    problems = sum(s.get("input_problems", {}).values())
    if problems:
        where = result.files.get("input_report", "input_report.csv")
        print("  " + t("problems", n=problems, where=where))
        for file, n in s["input_problems"].items():
            print(f"    {n:>5}  {file}")
    if "analysis (cached)" in result.seconds:
        print("  " + t("cached", dir=result.config.network.cache_dir))
    kept = set(s.get("outputs_kept", []))
    for path in result.files.values():
        print("  " + t("kept" if str(path) in kept else "wrote", path=path))
