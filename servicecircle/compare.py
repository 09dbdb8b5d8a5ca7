"""Before and after: what changed between two runs, per street and community.

``servicecircle compare RUN_A RUN_B`` reads two output folders (``summary.json``,
``communities.csv``, ``streets.csv``, ``scorecard.csv`` and the GeoPackage's ``blind_spots``
layer) — "today" and "with the new centres", or last year and this year — and writes
``compare.xlsx`` and ``compare.html``: covered shares before, after and their change per
street and community, the goals newly met and no longer met, and the blind spots closed,
new and remaining. Units are matched by their code (区划代码), else by name and street, so
two runs on different community files still line up where their units agree; a unit in
only one run is listed as such, never dropped. The comparison reads only what a run wrote,
so runs made months apart compare as long as both folders are kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import pages, texts
from . import xlsx as xlsx_writer
from .errors import InputError

#: What a run folder must hold to be compared (the others are optional: a run without streets has no streets.csv).
REQUIRED = ("summary.json", "communities.csv")
#: Settings that make two runs' figures not like for like when they differ (said on the page, not refused).
SETTINGS_COMPARED = ("speed_m_s", "thresholds_min", "h3_resolution", "street_buffer_m")
#: Scorecard verdicts as scorecard.csv writes them.
MET, NOT_MET, NOT_ASSESSED = "达标", "未达标", "未评估"
#: Rows a table of the page shows at most (the workbook holds every row; the page says how many it left out).
PAGE_MAX_ROWS = 500


@dataclass
class RunFolder:
    """One run's outputs, as read back from its folder."""

    path: Path
    label: str
    summary: dict
    communities: pd.DataFrame
    streets: pd.DataFrame | None
    scorecard: pd.DataFrame | None
    blind_spots: gpd.GeoDataFrame | None
    cells: pd.DataFrame | None  # h3, residents, covered_<category>


@dataclass
class Comparison:
    """The changes between run ``a`` (before) and run ``b`` (after)."""

    a: RunFolder
    b: RunFolder
    categories: list[str]
    overview: pd.DataFrame
    streets: pd.DataFrame | None
    communities: pd.DataFrame
    goals: pd.DataFrame
    blind_spots: pd.DataFrame
    differences: list[tuple[str, str, str]] = field(default_factory=list)  # setting, value in a, value in b


def read_run(folder: Path | str, *, label: str | None = None) -> RunFolder:
    """Read a run's output folder; a missing required file is a one-line :class:`InputError` naming it."""
    path = Path(folder)
    for name in REQUIRED:
        if not (path / name).is_file():
            raise InputError(key="error.run_file_not_found", path=path / name, folder=path)
    try:
        summary = json.loads((path / "summary.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(key="error.not_run_summary", path=path / "summary.json", problem=exc) from exc

    def table(name: str) -> pd.DataFrame | None:
        file = path / name
        if not file.is_file():
            return None
        # Codes stay text (leading zeros, 12-digit 区划代码); empty cells are empty strings for the keys.
        return pd.read_csv(file, encoding="utf-8-sig", dtype={"code": str, "代码": str, "street_name": str,
                                                               "所属街道": str, "name": str, "单位名称": str})

    blind, cells = None, None
    gpkg = path / "servicecircle.gpkg"
    if gpkg.is_file():
        import pyogrio

        layers = set(pyogrio.list_layers(gpkg)[:, 0])
        if "blind_spots" in layers:
            blind = gpd.read_file(gpkg, layer="blind_spots")
        if "cells" in layers:  # residents and coverage per H3 cell, without the cells' outlines (their ids locate them)
            fields = [f for f in pyogrio.read_info(gpkg, layer="cells")["fields"]
                      if f in ("h3", "residents") or f.startswith("covered_")]
            cells = pyogrio.read_dataframe(gpkg, layer="cells", columns=fields, read_geometry=False)
    return RunFolder(path, label or path.name, summary, table("communities.csv"), table("streets.csv"),  # type: ignore[arg-type]
                     table("scorecard.csv"), blind, cells)


def unit_keys(code: pd.Series, name: pd.Series, street: pd.Series | None = None) -> pd.Series:
    """A key per unit: its code where it has one, else its name and street; repeats numbered (#2, #3 …)."""
    code = code.fillna("").astype(str).str.strip()
    by_name = "名:" + name.fillna("").astype(str)
    if street is not None:
        by_name = by_name + "|" + street.fillna("").astype(str)
    key = code.where(code != "", by_name)
    n = key.groupby(key).cumcount().to_numpy()
    return key.where(n == 0, key + "#" + (n + 1).astype(str))


def _demand_group(summary: dict, cat: str) -> str | None:
    """The age group a category serves (``60plus``, ``0_4``, ``0_3``), from the run's 2SFCA demand."""
    demand = (summary.get("categories", {}).get(cat, {}).get("capacity_access") or {}).get("demand", "")
    return demand.removeprefix("residents_") if demand.startswith("residents_") else None


def _unit_changes(a: pd.DataFrame, b: pd.DataFrame, categories: list[str], groups: dict[str, str | None],
                  street_column: str | None) -> pd.DataFrame:
    """Per unit (outer join of both runs): residents and, per category, covered shares before, after, change."""
    ka = unit_keys(a["code"], a["name"], a[street_column] if street_column else None)
    kb = unit_keys(b["code"], b["name"], b[street_column] if street_column else None)
    keep = ["name", "code"] + ([street_column] if street_column else []) + ["residents"]
    measures = []
    for cat in categories:
        measures += [f"covered_share_{cat}", f"uncovered_residents_{cat}"]
        if groups.get(cat):
            measures.append(f"covered_share_{cat}_{groups[cat]}")
    cols_a = [c for c in keep + measures if c in a.columns]
    cols_b = [c for c in keep + measures if c in b.columns]
    merged = pd.merge(a[cols_a].assign(key=ka.to_numpy()), b[cols_b].assign(key=kb.to_numpy()), on="key",
                      how="outer", suffixes=("_a", "_b"), indicator=True, sort=False)
    out = pd.DataFrame({"key": merged["key"]})
    for c in ["name", "code"] + ([street_column] if street_column else []):
        out[c] = merged[f"{c}_b"].where(merged[f"{c}_b"].notna(), merged[f"{c}_a"])
    out["present"] = merged["_merge"].map({"both": "both", "left_only": "a", "right_only": "b"}).astype(str)
    for c in ["residents"] + measures:
        va = merged[f"{c}_a"].to_numpy(float) if f"{c}_a" in merged else np.full(len(merged), np.nan)
        vb = merged[f"{c}_b"].to_numpy(float) if f"{c}_b" in merged else np.full(len(merged), np.nan)
        out[f"{c}_a"], out[f"{c}_b"], out[f"{c}_change"] = va, vb, vb - va
    # Largest gain in the first category first, then by name: the rows an office reads first are the changed ones.
    first = f"covered_share_{categories[0]}_change" if categories else "residents_change"
    order = np.lexsort((out["key"].to_numpy(str), -np.nan_to_num(np.abs(out[first].to_numpy(float)), nan=-1.0)))
    return out.iloc[order].reset_index(drop=True)


def _goal_changes(a: pd.DataFrame | None, b: pd.DataFrame | None) -> pd.DataFrame:
    """Per scorecard row of either run: verdict before and after, and the change (met_new, lost, same)."""
    columns = ["level", "unit", "street", "goal", "goal_name", "meaning", "value_a", "value_b", "passed_a",
               "passed_b", "change"]
    if a is None or b is None:
        return pd.DataFrame(columns=columns)

    def keyed(s: pd.DataFrame) -> pd.DataFrame:
        unit = unit_keys(s["代码"], s["单位名称"], s["所属街道"]).where(s["层级"] != "区", "district")
        return pd.DataFrame({"key": s["层级"] + "/" + unit + "/" + s["指标代码"] + "/" + s["口径"].fillna(""),
                             "level": s["层级"], "unit": s["单位名称"], "street": s["所属街道"].fillna(""),
                             "goal": s["指标代码"], "goal_name": s["指标"], "meaning": s["口径"],
                             "value": s["现状值"].astype(float), "passed": s["是否达标"]})

    m = pd.merge(keyed(a), keyed(b), on="key", how="outer", suffixes=("_a", "_b"), sort=False)
    out = pd.DataFrame({c: m[f"{c}_b"].where(m[f"{c}_b"].notna(), m[f"{c}_a"])
                        for c in ("level", "unit", "street", "goal", "goal_name", "meaning")})
    out["value_a"], out["value_b"] = m["value_a"].to_numpy(float), m["value_b"].to_numpy(float)
    out["passed_a"], out["passed_b"] = m["passed_a"].fillna(""), m["passed_b"].fillna("")
    met_a, met_b = out["passed_a"].eq(MET), out["passed_b"].eq(MET)
    out["change"] = np.select([met_b & ~met_a, met_a & ~met_b], ["met_new", "lost"], "same")
    return out[columns]


def _blind_spot_changes(a: gpd.GeoDataFrame | None, b: gpd.GeoDataFrame | None,
                        cells_b: pd.DataFrame | None) -> pd.DataFrame:
    """Each blind spot of run a, with the residents of its area still outside every circle in run b:
    ``closed`` (none left), ``shrunk`` (fewer) or ``remaining``; and each blind spot of b that overlaps none
    of a's of its category: ``new``. A large blind spot that new centres split in two is ``shrunk``, not
    ``remaining``: b's cells (their centres) are counted inside a's outlines, not b's clusters matched."""
    columns = ["category", "blind_spot_id", "run", "status", "residents", "residents_still_outside",
               "demand_residents", "communities"]
    if a is None or b is None:
        return pd.DataFrame(columns=columns)
    b = b.to_crs(a.crs) if a.crs is not None and b.crs is not None and b.crs != a.crs else b
    ga, gb = a.geometry.to_numpy(), b.geometry.to_numpy()
    cat_a, cat_b = a["category"].to_numpy(object), b["category"].to_numpy(object)
    still = np.full(len(a), np.nan)
    if cells_b is not None and len(cells_b):
        from . import h3cells

        lon, lat = h3cells.centres(cells_b["h3"].to_numpy())
        centres = shapely.points(lon, lat)
        ic, ia = gpd.GeoSeries(ga, crs=a.crs).sindex.query(centres, predicate="within")
        still = np.zeros(len(a))
        for cat in np.unique(cat_a):  # a loop per category, each one vectorised over cells
            column = f"covered_{cat}"
            if column not in cells_b:
                still[cat_a == cat] = np.nan
                continue
            pick = cat_a[ia] == cat
            outside = ~cells_b[column].fillna(False).to_numpy(bool)[ic[pick]]
            weights = cells_b["residents"].to_numpy(float)[ic[pick]] * outside
            still += np.bincount(ia[pick], weights=weights, minlength=len(a)) * (cat_a == cat)
    # Neighbouring clusters touch along cell edges: only a shared area makes a blind spot of b an old one.
    ia, ib = gpd.GeoSeries(ga, crs=a.crs).sindex.query(gb, predicate="intersects")[::-1]
    keep = cat_a[ia] == cat_b[ib]
    ia, ib = ia[keep], ib[keep]
    shared = shapely.area(shapely.intersection(ga[ia], gb[ib])) > 1e-12
    old_b = np.bincount(ib[shared], minlength=len(b)) > 0
    residents_a = a["residents"].to_numpy(float)
    # "Closed" allows for rounding of the residents' shares (less than one resident left outside).
    status_a = np.select([still < 1.0, still < residents_a - 1.0, np.isnan(still)],
                         ["closed", "shrunk", "unknown"], "remaining")
    side_a = pd.DataFrame({"category": cat_a, "blind_spot_id": a["blind_spot_id"], "run": "a", "status": status_a,
                           "residents": residents_a, "residents_still_outside": still,
                           "demand_residents": a.get("demand_residents", np.nan),
                           "communities": a.get("communities", "")})
    new_b = b[~old_b]
    side_b = pd.DataFrame({"category": new_b["category"], "blind_spot_id": new_b["blind_spot_id"], "run": "b",
                           "status": "new", "residents": new_b["residents"],
                           "residents_still_outside": new_b["residents"],
                           "demand_residents": new_b.get("demand_residents", np.nan),
                           "communities": new_b.get("communities", "")})
    out = pd.concat([side_a, side_b], ignore_index=True)
    rank = out["status"].map({"closed": 0, "shrunk": 1, "new": 2, "remaining": 3, "unknown": 4}).to_numpy()
    order = np.lexsort((-out["residents"].to_numpy(float), rank, out["category"].to_numpy(str)))
    return out.iloc[order].reset_index(drop=True)[columns]


def _overview(a: RunFolder, b: RunFolder, categories: list[str], blind: pd.DataFrame) -> pd.DataFrame:
    """Per category: facilities, covered share, blind spots and goals met, before and after."""
    rows = []
    for cat in categories:
        ca, cb = a.summary["categories"][cat], b.summary["categories"][cat]
        spots = blind[blind["category"] == cat]
        rows.append({"category": cat, "label": cb.get("label", cat),
                     "facilities_a": ca.get("facilities"), "facilities_b": cb.get("facilities"),
                     "covered_share_a": ca.get("population_covered_share"),
                     "covered_share_b": cb.get("population_covered_share"),
                     "blind_spots_a": ca.get("blind_spots"), "blind_spots_b": cb.get("blind_spots"),
                     "blind_spots_closed": int((spots["status"] == "closed").sum()),
                     "blind_spots_shrunk": int((spots["status"] == "shrunk").sum()),
                     "blind_spots_new": int((spots["status"] == "new").sum())})
    out = pd.DataFrame(rows)
    if len(out):
        out["covered_share_change"] = out["covered_share_b"] - out["covered_share_a"]
    return out


def compare(run_a: RunFolder, run_b: RunFolder) -> Comparison:
    """Compare two runs read by :func:`read_run` (``run_a`` before, ``run_b`` after)."""
    cats = [c for c in run_b.summary.get("categories", {}) if c in run_a.summary.get("categories", {})]
    groups = {c: _demand_group(run_b.summary, c) for c in cats}
    differences = [(key, json.dumps(run_a.summary.get(key), ensure_ascii=False),
                    json.dumps(run_b.summary.get(key), ensure_ascii=False))
                   for key in SETTINGS_COMPARED if run_a.summary.get(key) != run_b.summary.get(key)]
    if run_a.summary.get("area") != run_b.summary.get("area"):
        differences.insert(0, ("area", str(run_a.summary.get("area")), str(run_b.summary.get("area"))))
    for only, run in (("a", run_a), ("b", run_b)):
        other = run_b if only == "a" else run_a
        for cat in run.summary.get("categories", {}):
            if cat not in other.summary.get("categories", {}):
                differences.append((f"categories.{cat}", "✔" if only == "a" else "–", "✔" if only == "b" else "–"))
    streets = (_unit_changes(run_a.streets, run_b.streets, cats, groups, None)
               if run_a.streets is not None and run_b.streets is not None else None)
    communities = _unit_changes(run_a.communities, run_b.communities, cats, groups, "street_name")
    goals = _goal_changes(run_a.scorecard, run_b.scorecard)
    blind = _blind_spot_changes(run_a.blind_spots, run_b.blind_spots, run_b.cells)
    return Comparison(run_a, run_b, cats, _overview(run_a, run_b, cats, blind), streets, communities,
                      goals, blind, differences)


# --------------------------------------------------------------------------- writing

def _labels(comp: Comparison) -> dict[str, str]:
    return {cat: comp.b.summary["categories"][cat].get("label", cat) for cat in comp.categories}


def worded_units(comp: Comparison, table: pd.DataFrame, lang: str, *, street_column: bool) -> pd.DataFrame:
    """A unit change table with headers in ``lang`` (shares in percent points of change)."""
    t = texts.section(lang, "compare.")
    labels = _labels(comp)
    present = {"both": "", "a": t["only_a"], "b": t["only_b"]}
    out = pd.DataFrame({t["name"]: table["name"], t["code"]: table["code"].fillna("")})
    if street_column:
        out[t["street"]] = table["street_name"].fillna("")
    out[t["present"]] = table["present"].map(present)
    out[t["residents_a"]] = table["residents_a"]
    out[t["residents_b"]] = table["residents_b"]
    for cat in comp.categories:
        for col in [c for c in table.columns if c.startswith(f"covered_share_{cat}") and c.endswith("_a")]:
            stem = col[:-2]
            group = stem.removeprefix(f"covered_share_{cat}").lstrip("_")
            name = labels[cat] + (f"（{texts.text(lang, 'compare.group_' + group)}）" if group else "")
            out[t["share_a"].format(name=name)] = table[f"{stem}_a"]
            out[t["share_b"].format(name=name)] = table[f"{stem}_b"]
            out[t["share_change"].format(name=name)] = table[f"{stem}_change"] * 100.0
        out[t["uncovered_change"].format(name=labels[cat])] = table[f"uncovered_residents_{cat}_change"]
    return out


def worded_goals(comp: Comparison, lang: str, *, changed_only: bool = True) -> pd.DataFrame:
    t = texts.section(lang, "compare.")
    g = comp.goals[comp.goals["change"] != "same"] if changed_only else comp.goals
    change = {"met_new": t["met_new"], "lost": t["lost"], "same": t["same"]}
    # scorecard.csv holds Chinese verdicts and levels whatever its run's language: worded in ``lang`` here.
    verdict = {MET: texts.text(lang, "goal.passed_yes"), NOT_MET: texts.text(lang, "goal.passed_no"),
               NOT_ASSESSED: texts.text(lang, "script.not_assessed"), "": ""}
    level = {texts.text("zh", f"level.{k}"): texts.text(lang, f"level.{k}")
             for k in ("district", "street", "community", "compound")}
    return pd.DataFrame({t["level"]: g["level"].map(level).fillna(g["level"]), t["name"]: g["unit"],
                         t["street"]: g["street"],
                         t["goal"]: g["goal_name"], t["meaning"]: g["meaning"],
                         t["value_a"]: g["value_a"], t["value_b"]: g["value_b"],
                         t["passed_a"]: g["passed_a"].map(verdict).fillna(g["passed_a"]),
                         t["passed_b"]: g["passed_b"].map(verdict).fillna(g["passed_b"]),
                         t["change"]: g["change"].map(change)})


def worded_blind_spots(comp: Comparison, lang: str) -> pd.DataFrame:
    t = texts.section(lang, "compare.")
    labels = _labels(comp)
    b = comp.blind_spots
    status = {"closed": t["closed"], "shrunk": t["shrunk"], "new": t["new"], "remaining": t["remaining"],
              "unknown": t["unknown"]}
    run = {"a": comp.a.label, "b": comp.b.label}
    return pd.DataFrame({t["category"]: b["category"].map(labels), t["status"]: b["status"].map(status),
                         t["run"]: b["run"].map(run), t["blind_id"]: b["blind_spot_id"],
                         t["residents"]: b["residents"], t["still_outside"]: b["residents_still_outside"],
                         t["demand_residents"]: b["demand_residents"],
                         t["communities"]: b["communities"]})


def worded_overview(comp: Comparison, lang: str) -> pd.DataFrame:
    t = texts.section(lang, "compare.")
    o = comp.overview
    if not len(o):
        return pd.DataFrame()
    return pd.DataFrame({t["category"]: o["label"], t["facilities_a"]: o["facilities_a"],
                         t["facilities_b"]: o["facilities_b"],
                         t["share_a"].format(name=""): o["covered_share_a"],
                         t["share_b"].format(name=""): o["covered_share_b"],
                         t["share_change"].format(name=""): o["covered_share_change"] * 100.0,
                         t["blind_a"]: o["blind_spots_a"], t["blind_b"]: o["blind_spots_b"],
                         t["closed"]: o["blind_spots_closed"],
                         t["shrunk"]: o["blind_spots_shrunk"], t["new"]: o["blind_spots_new"]})


def _formats(frame: pd.DataFrame, lang: str) -> dict[str, str]:
    """Number formats of a worded table: shares as percent, changes in points with one decimal."""
    t = texts.section(lang, "compare.")
    share_a, share_b = t["share_a"].split("{name}")[-1], t["share_b"].split("{name}")[-1]
    change = t["share_change"].split("{name}")[-1]
    out = {}
    for col in frame.columns:
        if col.endswith(change):
            out[col] = "decimal1"
        elif col.endswith(share_a) or col.endswith(share_b):
            out[col] = "percent"
        elif frame[col].dtype.kind == "f":
            out[col] = "integer"
    return out


def write_comparison(comp: Comparison, out_dir: Path, *, lang: str = "zh") -> dict[str, Path]:
    """``compare.xlsx`` (overview, streets, communities, goals changed, blind spots) and ``compare.html``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    t = texts.section(lang, "compare.")
    overview = worded_overview(comp, lang)
    streets = worded_units(comp, comp.streets, lang, street_column=False) if comp.streets is not None else None
    communities = worded_units(comp, comp.communities, lang, street_column=True)
    goals = worded_goals(comp, lang)
    blind = worded_blind_spots(comp, lang)
    sheets = [(t["sheet_overview"], overview, np.zeros(len(overview), bool), _formats(overview, lang))]
    if streets is not None:
        sheets.append((t["sheet_streets"], streets, np.zeros(len(streets), bool), _formats(streets, lang)))
    sheets.append((t["sheet_communities"], communities, np.zeros(len(communities), bool),
                   _formats(communities, lang)))
    changed = comp.goals["change"][comp.goals["change"] != "same"]  # the rows worded_goals keeps
    sheets.append((t["sheet_goals"], goals, (changed == "lost").to_numpy(), _formats(goals, lang)))
    sheets.append((t["sheet_blind"], blind, (comp.blind_spots["status"] == "new").to_numpy(),
                   _formats(blind, lang)))
    files = {"compare_xlsx": xlsx_writer.write_workbook(out_dir / "compare.xlsx", sheets, fill_rgb="F8CBAD")}
    page = pages.render("compare.html", lang, html_lang="zh-CN" if lang == "zh" else "en", comp=comp,
                        a=comp.a, b=comp.b, overview=_page_table(overview), streets=_page_table(streets),
                        communities=_page_table(communities), goals=_page_table(goals),
                        blind=_page_table(blind),
                        counts=_counts(comp), sort_assets=pages.asset_tags([pages.SORT_JS], True),
                        differences=comp.differences, shown_max=PAGE_MAX_ROWS)
    path = out_dir / "compare.html"
    path.write_text(page, encoding="utf-8")
    files["compare_html"] = path
    return files


def _counts(comp: Comparison) -> dict[str, int]:
    g, b = comp.goals["change"], comp.blind_spots["status"]
    return {"met_new": int((g == "met_new").sum()), "lost": int((g == "lost").sum()),
            "closed": int((b == "closed").sum()), "shrunk": int((b == "shrunk").sum()), "new": int((b == "new").sum()),
            "communities_a_only": int((comp.communities["present"] == "a").sum()),
            "communities_b_only": int((comp.communities["present"] == "b").sum())}


def _cell_text(value: object, column: str) -> str:
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return ""
        return f"{value:+.1f}" if "±" in column or "change" in column.lower() else f"{value:.4g}"
    return "" if value is None else str(value)


def _page_table(frame: pd.DataFrame | None) -> dict | None:
    """A worded table for the page's ``table`` macro (every text escaped by the template)."""
    if frame is None or not len(frame):
        return None
    total = len(frame)
    frame = frame.iloc[:PAGE_MAX_ROWS]
    shares = [c for c in frame.columns if "%" in c]
    rows = []
    for values in frame.itertuples(index=False, name=None):
        row = []
        for col, value in zip(frame.columns, values):
            if col in shares and isinstance(value, float) and np.isfinite(value) and "±" not in col:
                text = f"{value * 100:.1f}%"
            else:
                text = _cell_text(value, col)
            number = isinstance(value, float | int | np.integer | np.floating) and not isinstance(value, bool)
            row.append({"text": text, "v": str(value) if number and np.isfinite(float(value)) else None, "cls": ""})
        rows.append(row)
    return {"head": list(frame.columns), "rows": rows, "sortable": True, "scroll": len(frame) > 30,
            "left_out": total - len(frame)}
