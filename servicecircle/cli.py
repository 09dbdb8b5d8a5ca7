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

#: The commands' examples (command lines: the same in both languages).
EXAMPLES = """\
  servicecircle run data/chengdu.toml
  servicecircle template registry.xlsx
  servicecircle run data/chengdu.toml --out /tmp/chengdu --speed-profile elderly
  servicecircle run data/hexi.toml --cdn --basemap amap --lang en
"""
SITE_EXAMPLES = """\
  servicecircle site data/chengdu.toml --category nursery --add 5
  servicecircle site data/hexi.toml --category elder_care --target 0.9 --weight 60plus
  servicecircle site data/hexi.toml --category canteen --add 3 --candidates vacant.geojson \\
      --candidates-coord-system gcj02 --exclude parks.geojson
"""
COMPARE_EXAMPLES = """\
  servicecircle compare maps/hexi_2025 maps/hexi_2026
  servicecircle compare maps/today maps/with_new_centres --out maps/compare --lang en
"""
TEMPLATE_EXAMPLES = """\
  servicecircle template registry.xlsx
  servicecircle template registry.csv --lang en
"""
BATCH_EXAMPLES = """\
  servicecircle batch city.toml
  servicecircle batch city.toml --serial
  servicecircle batch city.toml --scheduler tcp://10.0.0.5:8786
"""

#: argparse's own messages (it words them through gettext, which ships no Chinese), as the catalogue words them.
_ARGPARSE_MESSAGES = (
    (r"^the following arguments are required: (.*)$", "cli.err_required"),
    (r"^argument (.*?): invalid choice: (.*?) \(choose from (.*)\)$", "cli.err_choice"),
    (r"^argument (.*?): invalid (\w+) value: (.*)$", "cli.err_value"),
    (r"^argument (.*?): expected one argument$", "cli.err_one"),
    (r"^argument (.*?): not allowed with argument (.*)$", "cli.err_together"),
    (r"^one of the arguments (.*) is required$", "cli.err_one_of"),
    (r"^unrecognized arguments: (.*)$", "cli.err_unknown"),
)


def _parser_class(lang: str) -> type[argparse.ArgumentParser]:
    """An ``ArgumentParser`` whose own words (usage, section titles, ``-h``, errors) are the catalogue's in
    ``lang``; the subcommands' parsers are of the same class (``add_subparsers`` uses the parent's)."""
    import re

    from . import texts

    class Formatter(argparse.RawDescriptionHelpFormatter):
        def add_usage(self, usage, actions, groups, prefix=None):  # type: ignore[no-untyped-def]
            super().add_usage(usage, actions, groups, prefix if prefix is not None else texts.text(lang, "cli.usage"))

    class Parser(argparse.ArgumentParser):
        def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            kwargs.update(add_help=False, formatter_class=Formatter)
            super().__init__(*args, **kwargs)
            self._positionals.title = texts.text(lang, "cli.positionals")
            self._optionals.title = texts.text(lang, "cli.options")
            self.add_argument("-h", "--help", action="help", help=texts.text(lang, "cli.help"))

        def error(self, message: str):  # type: ignore[no-untyped-def]
            for pattern, key in _ARGPARSE_MESSAGES:
                found = re.match(pattern, message)
                if found:
                    message = texts.text(lang, key, **{f"a{i}": v for i, v in enumerate(found.groups())})
                    break
            self.print_usage(sys.stderr)
            self.exit(2, texts.text(lang, "cli.error_line", prog=self.prog, message=message) + "\n")

    return Parser


def _common(p: argparse.ArgumentParser, h: Callable[[str], str]) -> None:
    p.add_argument("config", metavar="CONFIG.toml", help=h("config"))
    p.add_argument("--out", metavar="DIR", help=h("out"))
    p.add_argument("--speed-profile", choices=["default", "elderly"], help=h("speed_profile"))
    p.add_argument("--quiet", action="store_true", help=h("quiet"))
    p.add_argument("--refresh", action="store_true", help=h("refresh"))
    p.add_argument("--recompute", action="store_true", help=h("recompute"))
    p.add_argument("--lang", choices=["zh", "en"], help=h("lang"))
    pages = p.add_mutually_exclusive_group()
    pages.add_argument("--cdn", action="store_true", help=h("cdn"))
    pages.add_argument("--offline", action="store_true", help=h("offline"))
    p.add_argument("--basemap", choices=["osm", "amap", "tencent", "none"], help=h("basemap"))


def help_language(argv: list[str] | None) -> str:
    """The language of ``--help`` and of argument errors: ``--lang`` as given on the command line, else zh."""
    args = list(sys.argv[1:] if argv is None else argv)
    for i, arg in enumerate(args):
        if arg.startswith("--lang="):
            return "en" if arg.split("=", 1)[1] == "en" else "zh"
        if arg == "--lang" and i + 1 < len(args):
            return "en" if args[i + 1] == "en" else "zh"
    return "zh"


def _parser(lang: str = "zh") -> argparse.ArgumentParser:
    """The command line, its help and errors worded in ``lang`` (the catalogue's ``cli.`` entries)."""
    from . import texts

    def h(key: str) -> str:
        return texts.text(lang, f"cli.{key}")

    def examples(lines: str) -> str:
        return f"{h('examples')}\n{lines}"

    p = _parser_class(lang)(prog="servicecircle", description=h("description"), epilog=examples(EXAMPLES))
    sub = p.add_subparsers(dest="command", metavar="COMMAND", title=h("commands"))
    r = sub.add_parser("run", help=h("run"), description=h("description"), epilog=examples(EXAMPLES))
    _common(r, h)
    s = sub.add_parser("site", help=h("site"), description=h("site_description"), epilog=examples(SITE_EXAMPLES))
    _common(s, h)
    s.add_argument("--category", required=True, help=h("site_category"))
    how = s.add_mutually_exclusive_group(required=True)
    how.add_argument("--add", type=int, metavar="K", help=h("add"))
    how.add_argument("--target", type=float, metavar="SHARE", help=h("target"))
    s.add_argument("--weight", default="residents", choices=["residents", "60plus", "young"], help=h("weight"))
    s.add_argument("--candidates", metavar="FILE", help=h("candidates"))
    s.add_argument("--candidates-coord-system", default="wgs84", choices=SYSTEMS, help=h("coord_system"))
    s.add_argument("--exclude", metavar="FILE", help=h("exclude"))
    s.add_argument("--exclude-coord-system", default="wgs84", choices=SYSTEMS, help=h("coord_system"))
    s.add_argument("--spacing", type=float, default=100.0, metavar="M", help=h("spacing"))
    c = sub.add_parser("capacity", help=h("capacity"), description=h("capacity_description"))
    _common(c, h)
    c.add_argument("--category", required=True, help=h("capacity_category"))
    c.add_argument("--per-1000", type=float, metavar="N", help=h("per_1000"))
    c.add_argument("--group", choices=["all", "60plus", "young", "0_3", "0_4"], help=h("group"))
    cp = sub.add_parser("compare", help=h("compare"), description=h("compare_description"),
                        epilog=examples(COMPARE_EXAMPLES))
    cp.add_argument("run_a", metavar="RUN_A", help=h("run_a"))
    cp.add_argument("run_b", metavar="RUN_B", help=h("run_b"))
    cp.add_argument("--out", metavar="DIR", help=h("compare_out"))
    cp.add_argument("--lang", choices=["zh", "en"], default="zh", help=h("compare_lang"))
    tm = sub.add_parser("template", help=h("template"), description=h("template_description"),
                        epilog=examples(TEMPLATE_EXAMPLES))
    tm.add_argument("file", metavar="FILE", help=h("template_file"))
    tm.add_argument("--lang", choices=["zh", "en"], default="zh", help=h("template_lang"))
    tm.add_argument("--force", action="store_true", help=h("force"))
    b = sub.add_parser("batch", help=h("batch"), description=h("batch_description"), epilog=examples(BATCH_EXAMPLES))
    b.add_argument("batch_file", metavar="BATCH.toml", help=h("batch_file"))
    where = b.add_mutually_exclusive_group()
    where.add_argument("--serial", action="store_true", help=h("serial"))
    where.add_argument("--scheduler", metavar="ADDRESS", help=h("scheduler"))
    b.add_argument("--workers", type=int, metavar="N", help=h("workers"))
    b.add_argument("--lang", choices=["zh", "en"], default="zh", help=h("batch_lang"))
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
        line = f"{level}{'：' if self.lang == 'zh' else ': '}{message}"
        return f"{line}\n{self.formatException(record.exc_info)}" if record.exc_info else line


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (0 ok, 2 bad input)."""
    from . import texts
    from .errors import ServiceCircleError

    args = _parser(help_language(argv)).parse_args(argv)
    # Commands that read no study-area file of their own.
    standalone = {"template": write_registry_template, "compare": write_comparison, "batch": run_batch_command}
    if args.command in standalone:
        try:
            return standalone[args.command](args)
        except ServiceCircleError as exc:
            print(texts.text(args.lang, "console.error", error=exc.worded(args.lang)), file=sys.stderr)
            return 2
    if args.command not in ("run", "site", "capacity"):
        _parser(help_language(argv)).print_help()
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
