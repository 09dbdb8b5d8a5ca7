"""Government lists as they come: finding the table inside a registry spreadsheet or CSV.

The lists a 民政局 or 卫健委 hands a street office are made to be printed, not
read by a program: a merged title row (``河西区养老服务机构名录``), a header of
two rows (``坐标`` merged over ``经度`` and ``纬度``), a ``序号`` column, blank
rows, section rows (``一、社区养老驿站``) and notes at the end (``注：…``,
``填报单位：…``, ``合计``). :func:`read_sheet` reads such a file as it is:

* the header is the row whose cells name the most known columns (or the rows
  the config gives as ``header_row``), with the header rows just above or below
  it that also name known columns and hold no numbers (a two-row header);
* merged cells are filled with their value over the whole range, so ``坐标``
  stands above both ``经度`` and ``纬度`` and a street merged down a group of
  rows belongs to each of them; a column's name is its lowest known header
  cell (``坐标/经度`` → ``经度``), else its header cells joined by ``/``;
* the ``序号`` column is dropped (it numbers the printed list, nothing else);
* rows above the header, blank rows inside the table, notes, totals, section
  headings and the template's example row are skipped, each with one line in
  the input report (file, row as the spreadsheet shows it, field, problem,
  action). Blank rows after the last filled row are not lines: no one sees them.

:func:`write_template` writes the fill-in form (``servicecircle template
registry.xlsx``) that :func:`read_sheet` reads back.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from . import inputs, texts
from .config import MAX_HEADER_ROWS
from .errors import InputError

#: Rows searched for the header (a title, a date line and a blank row or two sit above it).
HEADER_SEARCH_ROWS = 30
#: Spellings of the serial-number column, which only numbers the printed list.
SERIAL_HEADERS = ("序号", "序", "行号", "no", "no.")

#: A note, signature or total row starts like this (its first filled cell, spaces removed).
NOTE_ROW = re.compile(
    r"^(?:(?:注|备注|说明|附注|附|填表说明)(?:$|[:：、.．\d（(])"
    r"|填报单位|填表单位|填报人|填表人|制表|审核|审批|负责人|联系人|联系电话|填报日期|填表日期|报送日期"
    r"|统计时间|统计日期|数据截至|截至|截止"
    r"|(?:合计|总计|小计|共计)(?:$|[:：\d（(]))"
)
#: A section heading: ``一、社区养老驿站``, ``（二）长者食堂``.
SECTION_ROW = re.compile(r"^(?:[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十]+[)）])")
#: The name of the template's example row begins with one of these (after an opening bracket).
EXAMPLE_NAME = re.compile(r"^[\[(（【〔]?\s*(?:示例|样例|example)", re.IGNORECASE)

_BRACKETS = re.compile(r"[（(\[【].*?[)）\]】]")
_NOT_WORD = re.compile(r"[^\w]+")
_NUMBER_CELL = re.compile(r"^[-+]?\d+(?:\.\d+)?$")


def header_key(text: str) -> str:
    """A header as compared with the known spellings: NFKC, lower case, no brackets (units), spaces or punctuation."""
    text = unicodedata.normalize("NFKC", str(text)).lower()
    return _NOT_WORD.sub("", _BRACKETS.sub("", text)).replace("_", "")


def column_letter(index: int) -> str:
    """Spreadsheet name of the 0-based column ``index`` (0 → A, 26 → AA)."""
    name, index = "", index + 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _cell_text(value: object) -> str:
    """A cell as the text a reader sees: whole numbers without ``.0``, dates as dates, blanks as ""."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return text[:10] if text.endswith("T00:00:00") else text
    return str(value).strip()


_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]*?\bref="([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)"')


def _xlsx_grid(path: Path, sheet: str | None) -> np.ndarray:
    """Every cell of the sheet as text, merged ranges filled with their top-left value."""
    import openpyxl  # a dependency through pandas' XLSX reader; imported when an XLSX is read
    from openpyxl.utils.cell import range_boundaries

    try:
        # Read-only: the cells streamed, 2–3× faster than a full load; the merges are read from
        # the sheet's own XML below, which the read-only sheet does not parse.
        book = openpyxl.load_workbook(path, data_only=True, read_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
        raise InputError(key="error.cannot_read_xlsx", path=path, problem=exc) from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise InputError(key="error.no_sheet", path=path, sheet=sheet, sheets=", ".join(book.sheetnames))
        ws = book[sheet] if sheet is not None else book.worksheets[0]
        ws.reset_dimensions()  # some writers record a wrong size; read every row there is
        rows = list(ws.iter_rows(values_only=True))
        with book._archive.open(ws._worksheet_path) as xml:  # type: ignore[union-attr]
            merges = [range_boundaries(ref.decode()) for ref in _MERGE.findall(xml.read())]
    finally:
        book.close()
    width = max((len(r) for r in rows), default=0)
    rows = [tuple(r) + (None,) * (width - len(r)) for r in rows]  # without a size, rows end at their last cell
    grid = np.full((len(rows), width), "", dtype=object)
    if rows and width:
        # openpyxl hands one Python value per cell anyway; the text of each is taken once here.
        grid[:] = pd.DataFrame(rows, dtype=object).map(_cell_text).to_numpy(dtype=object)
    for c0, r0, c1, r1 in merges:  # a handful per sheet: title, header, notes, groups
        if r0 <= len(grid) and c0 <= width:
            grid[r0 - 1:r1, c0 - 1:c1] = grid[r0 - 1, c0 - 1]
    return grid


def _csv_grid(path: Path, encoding: str | None) -> np.ndarray:
    """Every record of the CSV as a row of text cells, blank records kept (they are rows to the user)."""
    text, _ = inputs.decode_text(path.read_bytes(), path, encoding)
    try:
        sep = csv.Sniffer().sniff(text[:4096], delimiters=",\t;").delimiter
    except csv.Error:
        sep = ","
    # A title line has one field and the table many: give the reader room for the widest line
    # (an upper bound, quoted separators included; the all-empty columns it adds are dropped later).
    width = int(pd.Series(text.splitlines() or [""]).str.count(re.escape(sep)).max()) + 1
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, header=None, names=range(width), dtype=str,
                            keep_default_na=False, skip_blank_lines=False)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
        raise InputError(key="error.cannot_read_csv", path=path, problem=exc) from None
    return frame.fillna("").apply(lambda col: col.str.strip()).to_numpy(dtype=object)


def _header_rows(grid: np.ndarray, known: set[str], anchors: set[str], given: Sequence[int] | None,
                 path: Path) -> list[int]:
    """0-based rows of the header block: the given ones, else the best-scoring row and its header neighbours.

    ``anchors`` are the keys of the name and category headers: a header row above or below another
    leaves their cells blank or repeats them (a merge), where a first data row fills them.
    """
    n = len(grid)
    if given:
        if given[-1] > n:
            raise InputError(key="error.header_row_beyond", path=path, row=given[-1], last=n)
        return [r - 1 for r in given]
    top = grid[:HEADER_SEARCH_ROWS]
    keys = np.vectorize(header_key, otypes=[object])(top) if top.size else top
    is_known = np.isin(keys, list(known)) & (keys != "")
    # Distinct known names per row: a merged 坐标 over two cells counts once.
    score = np.array([len(set(k[m])) for k, m in zip(keys, is_known)], dtype=int)
    if not len(score) or score.max() == 0:
        filled = np.flatnonzero((grid != "").any(axis=1))
        if not len(filled):
            raise InputError(key="error.sheet_empty", path=path)
        return [int(filled[0])]  # no known header: the first filled row, as any table reader would
    best = int(np.argmax(score))
    numeric = np.vectorize(lambda t: bool(_NUMBER_CELL.match(t)), otypes=[bool])(top)

    anchor = np.isin(keys, list(anchors)) & (keys != "")

    def joins(row: int, beside: int) -> bool:  # a header row names a known column and holds no number,
        if not (0 <= row < len(top)) or score[row] == 0 or numeric[row].any():
            return False
        for a, b in ((row, beside), (beside, row)):  # and leaves the other's name/category cells alone
            other = top[b][anchor[a]]
            if ((other != "") & (other != top[a][anchor[a]])).any():
                return False
        return True

    block = [best]
    while len(block) < MAX_HEADER_ROWS and joins(block[0] - 1, block[0]):
        block.insert(0, block[0] - 1)
    while len(block) < MAX_HEADER_ROWS and joins(block[-1] + 1, block[-1]):
        block.append(block[-1] + 1)
    return block


def _column_names(head: np.ndarray, known: set[str]) -> list[str]:
    """One name per column from the header block ``head`` (rows × columns)."""
    head = head.copy()
    # A CSV loses merges: an upper header cell left blank over a named lower cell belongs to the
    # nearest upper cell on its left (坐标 ,  over 经度 , 纬度).
    for r in range(len(head) - 1):
        upper = pd.Series(head[r]).replace("", np.nan)
        lower_named = (head[r + 1:] != "").any(axis=0)
        filled = upper.ffill().fillna("").to_numpy(dtype=object)
        head[r] = np.where((head[r] == "") & lower_named, filled, head[r])
    names = []
    for c in range(head.shape[1]):
        parts = list(dict.fromkeys(p for p in head[:, c] if p))
        known_parts = [p for p in parts if header_key(p) in known]
        if parts and known_parts and known_parts[-1] == parts[-1]:
            names.append(parts[-1])  # 坐标/经度 → 经度; 机构名称 merged down two rows → 机构名称
        else:
            names.append("/".join(parts))  # 床位/护理型: kept whole, to be mapped in the config
    seen: dict[str, int] = {}
    unique = []
    for c, name in enumerate(names):
        name = name or column_letter(c)  # a column without a header is named as Excel shows it
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} ({column_letter(c)})")
    return unique


def read_sheet(path: Path, *, what: str, aliases: Mapping[str, Iterable[str]], report: inputs.InputReport,
               encoding: str | None = None, sheet: str | None = None,
               header_row: Sequence[int] | None = None) -> pd.DataFrame:
    """The table inside a CSV or XLSX list, as text, with ``_row`` numbering rows as the spreadsheet does.

    Parameters
    ----------
    path : Path
        A ``.csv``/``.txt``/``.tsv`` (UTF-8, UTF-8 with BOM, GBK/GB18030, UTF-16) or ``.xlsx``/``.xlsm`` file.
    what : str
        What the file is, for messages ("facility registry").
    aliases : mapping of str to iterable of str
        Field → the header spellings that name it; the header is found by them and the
        ``name`` field's cells mark the template's example row.
    report : InputReport
        Receives one line per row skipped (above the header, blank, note, total, section, example).
    encoding : str, optional
        Text encoding of a CSV (default: recognised).
    sheet : str, optional
        The workbook's sheet (default: the first).
    header_row : sequence of int, optional
        The header's rows as the spreadsheet numbers them (``[2, 3]`` for a two-row header);
        default: found from the known headers.

    Returns
    -------
    DataFrame
        One text column per named column (``序号`` dropped), the data rows only, and ``_row``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(key="error.file_not_found", what=inputs.what_words(what), path=path)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        grid = _xlsx_grid(path, sheet)
    elif suffix in (".csv", ".txt", ".tsv"):
        grid = _csv_grid(path, encoding)
    else:
        raise InputError(key="error.table_suffix", path=path, what=inputs.what_words(what), suffix=suffix)
    if grid.size == 0:
        raise InputError(key="error.sheet_empty", path=path)
    lang = report.lang
    known = {header_key(a) for names in aliases.values() for a in names} | {header_key(s) for s in SERIAL_HEADERS}
    known.discard("")
    anchors = {header_key(a) for field in ("name", "category") for a in aliases.get(field, ())}
    block = _header_rows(grid, known, anchors, header_row, path)
    names = _column_names(grid[block], known)
    body = grid[block[-1] + 1:]
    row_no = np.arange(len(body)) + block[-1] + 2
    shown = f"{block[0] + 1}–{block[-1] + 1}" if len(block) > 1 else str(block[0] + 1)

    filled = body != ""
    blank = ~filled.any(axis=1)
    last = np.flatnonzero(~blank).max() if (~blank).any() else -1
    first_col = filled.argmax(axis=1) if body.shape[1] else np.zeros(len(body), int)  # first filled cell's column
    first = body[np.arange(len(body)), first_col] if body.shape[1] else np.full(len(body), "", dtype=object)
    first_key = pd.Series(first, dtype=object).str.normalize("NFKC").str.replace(r"\s+", "", regex=True)
    one_text = filled.any(axis=1) & ((body == first[:, None]) | ~filled).all(axis=1)  # every filled cell the same
    note = first_key.str.match(NOTE_ROW.pattern).to_numpy(bool) & ~blank
    section = first_key.str.match(SECTION_ROW.pattern).to_numpy(bool) & ~blank & ~note
    # One text over several cells is a merged title, section or note row (a facility row has fields);
    # after the first note, a row of one text is the note going on (2.数据截至…).
    after_note = np.cumsum(note) > 0
    note |= after_note & one_text & ~section
    spread = one_text & (filled.sum(axis=1) >= 2) & ~note & ~section
    name_keys = {header_key(a) for a in aliases.get("name", ())}
    name_col = next((c for c, n in enumerate(names) if header_key(n) in name_keys), None)
    example = np.zeros(len(body), bool)
    if name_col is not None:
        starts = pd.Series(body[:, name_col], dtype=object).str.strip().str.match(EXAMPLE_NAME.pattern, case=False)
        example = starts.to_numpy(bool) & ~note & ~section & ~spread

    for r in range(block[0]):  # title and date lines above the header
        c = next((c for c, t in enumerate(grid[r]) if t), None)
        if c is not None:
            report.add(path, r + 1, names[c], texts.text(lang, "sheet.above_header", text=grid[r, c], rows=shown),
                       texts.text(lang, "sheet.skipped"))
    skipped = (blank & (np.arange(len(body)) < last)) | note | section | spread | example
    for i in np.flatnonzero(skipped):  # only the skipped rows: a few per file
        if blank[i]:
            problem = texts.text(lang, "sheet.blank_row")
        elif example[i]:
            problem = texts.text(lang, "sheet.example_row", name=body[i, name_col])
        else:
            key = "sheet.note_row" if note[i] else "sheet.section_row"
            problem = texts.text(lang, key, text=first[i])
        field = names[name_col] if example[i] and name_col is not None else "" if blank[i] else names[first_col[i]]
        report.add(path, row_no[i], field, problem, texts.text(lang, "sheet.skipped"))

    keep = ~(blank | skipped)
    table = pd.DataFrame(body[keep], columns=names) if body.shape[1] else pd.DataFrame(index=range(int(keep.sum())))
    serial = [n for n in names if header_key(n) in {header_key(s) for s in SERIAL_HEADERS}]
    empty = [n for c, n in enumerate(names) if n == column_letter(c) and not (body[keep, c] != "").any()]
    table = table.drop(columns=serial + empty)
    table["_row"] = row_no[keep]
    return table.reset_index(drop=True)


#: The fill-in template's columns: (field, zh header, en header). Every header is one the reader
#: recognises (registries.COLUMN_ALIASES, and 序号 / no for the serial number).
TEMPLATE_COLUMNS = (
    ("serial", "序号", "no"), ("name", "名称", "name"), ("category", "类别", "category"), ("lon", "经度", "lon"),
    ("lat", "纬度", "lat"), ("address", "地址", "address"), ("beds", "床位", "beds"),
    ("nursery_places", "托位", "nursery_places"), ("meals_per_day", "日供餐", "meals_per_day"),
    ("affordable", "是否普惠", "affordable"), ("ownership", "性质", "ownership"),
    ("floor_area_m2", "建筑面积", "floor_area_m2"), ("registry_id", "编号", "registry_id"),
)
#: Columns a row cannot do without.
TEMPLATE_REQUIRED = ("name", "category", "lon", "lat")
#: The example row's category word and point. The point is Tiananmen Square, Beijing, so an example
#: left in by mistake lands far outside any study area but Beijing's, and is reported there.
TEMPLATE_EXAMPLE = {"category": "社区养老驿站", "lon": "116.3975", "lat": "39.9087", "beds": "20"}
#: Fill of the example row in the workbook (a pale yellow, "fill in here").
EXAMPLE_FILL = "FFF2CC"


def template_tables(*, lang: str, category_words: Mapping[str, Sequence[str]],
                    labels: Mapping[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The template's form (header and one example row) and its instructions, in ``lang``.

    Parameters
    ----------
    lang : {"zh", "en"}
    category_words : mapping of str to sequence of str
        Category key → the category words the reader recognises for it.
    labels : mapping of str to str
        Category key → its label (养老服务 …).
    """
    t = texts.text
    column = 1 if lang == "zh" else 2
    headers = [c[column] for c in TEMPLATE_COLUMNS]
    example = {"serial": t(lang, "template.example_serial"), "name": t(lang, "template.example_name"),
               "address": t(lang, "template.example_address"), "ownership": t(lang, "template.example_ownership"),
               **TEMPLATE_EXAMPLE}
    form = pd.DataFrame([[example.get(c[0], "") for c in TEMPLATE_COLUMNS]], columns=headers)
    yes, no = t(lang, "template.yes"), t(lang, "template.no")
    rows = [(c[column], t(lang, f"template.{c[0]}"), yes if c[0] in TEMPLATE_REQUIRED else no)
            for c in TEMPLATE_COLUMNS]
    rows += [(t(lang, "template.categories_row", label=labels[k], key=k), "、".join(words), "")
             for k, words in category_words.items()]
    rows += [(t(lang, "template.coordinates"), t(lang, "template.coordinates_note"), ""),
             (t(lang, "template.example"), t(lang, "template.example_note"), "")]
    cols = [t(lang, "template.col_column"), t(lang, "template.col_meaning"), t(lang, "template.col_required")]
    return form, pd.DataFrame(rows, columns=cols)


def write_template(path: Path, *, lang: str, category_words: Mapping[str, Sequence[str]],
                   labels: Mapping[str, str], overwrite: bool = False) -> Path:
    """Write the registry fill-in template: an ``.xlsx`` (the form, its example row filled pale yellow,
    and a sheet of instructions) or a ``.csv`` (UTF-8 with BOM, so Excel opens it right; the form only).

    The example row's name begins with 示例 (``Example``): :func:`read_sheet` skips it, with a line in
    the input report, until it is rewritten as a real facility. An existing file is kept unless
    ``overwrite``: it may be an office's filled-in registry.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise InputError(key="template.exists", path=path)
    form, instructions = template_tables(lang=lang, category_words=category_words, labels=labels)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".xlsx":
        from .xlsx import write_workbook

        write_workbook(path, [(texts.text(lang, "template.sheet_form"), form, np.ones(len(form), bool)),
                              (texts.text(lang, "template.sheet_help"), instructions,
                               np.zeros(len(instructions), bool))], fill_rgb=EXAMPLE_FILL)
    elif suffix == ".csv":
        form.to_csv(path, index=False, encoding="utf-8-sig")
    else:
        raise InputError(key="error.template_suffix", path=path, suffix=suffix)
    return path
