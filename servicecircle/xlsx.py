"""A workbook of plain tables, written column by column.

Why not a library: openpyxl (write-only) and XlsxWriter (constant memory)
both handle each cell in Python — 16–20 µs a cell measured here — so a city's
scorecard (630,000 rows × 16 columns) took 3–4 minutes, longer than the whole
rest of the run. The tables here need only what both write anyway: inline
strings and numbers, a bold header, a fill for marked rows, a frozen header,
an auto-filter and column widths. So each sheet's XML is built a column at a
time with vectorised string operations and streamed into the zip; the package
around it (content types, relationships, workbook, styles) is the minimal one
the Office Open XML standard (ECMA-376) asks for, the same parts openpyxl
writes. Tests read the result back with openpyxl.
"""

from __future__ import annotations

import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Excel's row limit per sheet.
EXCEL_MAX_ROWS = 1_048_576
#: Rows turned into XML at a time (bounded memory).
CHUNK_ROWS = 50_000

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
# XML 1.0 has no place for these control characters; registry text sometimes holds them.
_NUMBER = "%.16g"
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ILLEGAL_RE2 = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{fffe}\x{ffff}]"


def column_letter(index: int) -> str:
    """Spreadsheet column name of a 1-based index (1 → A, 27 → AA)."""
    name = ""
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _attr(text: str) -> str:
    return _ILLEGAL.sub("", text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays and scalars (in Arrow's C++ kernels)."""
    return pc.binary_join_element_wise(*parts, "")


def _escape(text: pa.Array) -> pa.Array:
    if pc.any(pc.match_substring_regex(text, _ILLEGAL_RE2)).as_py():
        text = pc.replace_substring_regex(text, _ILLEGAL_RE2, "")
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = pc.replace_substring(text, char, entity)
    return text


def text_array(values: pd.Series) -> pa.Array:
    """A column as Arrow text, missing values null: converted in Arrow when it holds only text,
    else value by value as ``str(value)`` (numbers in a registry's mixed fields)."""
    try:
        return pa.array(values.to_numpy(object), type=pa.string(), from_pandas=True)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return pa.array([None if pd.isna(v) else str(v) for v in values], type=pa.string())


def _cells(values: pd.Series, head: pa.Array) -> pa.Array:
    """The ``<c>`` element of every value of one column; ``head`` is each cell's ``<c r="…" s="…"``."""
    empty = _join(head, "/>")
    if pd.api.types.is_bool_dtype(values):
        values = values.astype(object)
    if pd.api.types.is_numeric_dtype(values):
        present = np.isfinite(values.to_numpy(float))
        # Integers as integers, other numbers with 16 significant digits, as openpyxl writes them;
        # each distinct number formatted once.
        codes, distinct = pd.factorize(values)
        formatted = pd.Series(distinct).astype(str) if pd.api.types.is_integer_dtype(values) \
            else pd.Series(distinct).map(_NUMBER.__mod__)
        text = pc.fill_null(pa.array(formatted.to_numpy(object), type=pa.string()).take(
            pa.array(codes, mask=codes < 0)), "")
        numeric = np.ones(len(values), bool)
    else:
        present = values.notna().to_numpy().copy()
        kinds = {type(v) for v in values[present].iloc[:1000]} if present.any() else {str}
        if kinds <= {str}:
            numeric = np.zeros(len(values), bool)
            text = pc.fill_null(text_array(values), "")
            # An empty text is an empty cell, as Excel keeps it.
            present &= pc.greater(pc.binary_length(text), 0).to_numpy(zero_copy_only=False)
        else:  # a mixed column: numbers stay numbers (rare; one Python test per value)
            numeric = values.map(lambda v: isinstance(v, (int, float, np.integer, np.floating))
                                 and not isinstance(v, bool) and np.isfinite(float(v))).to_numpy(bool)
            present &= ~values.map(lambda v: isinstance(v, float) and not np.isfinite(v)).to_numpy(bool)
            text = values.map(lambda v: "" if v is None else _NUMBER % float(v)
                              if isinstance(v, (float, np.floating)) else str(v))
    if not isinstance(text, pa.Array):
        text = pa.array(text.to_numpy(object), type=pa.string())
    number = _join(head, "><v>", text, "</v></c>")
    cells = number if numeric.all() else pc.if_else(
        numeric, number, _join(head, ' t="inlineStr"><is><t xml:space="preserve">', _escape(text), "</t></is></c>"))
    return pc.if_else(present, cells, empty)


def _bytes(strings: pa.Array) -> memoryview:
    """All strings of an Arrow array back to back: its data buffer, without a copy."""
    strings = pc.fill_null(strings, "")
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32)[strings.offset:strings.offset + len(strings) + 1]
    return memoryview(strings.buffers()[2])[offsets[0]:offsets[-1]]


#: Number formats a column (or a cell) may take: (numFmtId, format code or None for Excel's built-in).
#: Percent with one decimal for shares, thousands separators for counts, one or two decimals.
NUMBER_FORMATS: dict[str, tuple[int, str | None]] = {
    "percent": (164, "0.0%"), "integer": (3, None), "decimal1": (165, "0.0"), "decimal2": (4, None),
}
_FORMAT_CODES = {name: k for k, name in enumerate(NUMBER_FORMATS)}  # format → k of its styles 3 + 2k, 4 + 2k
_STYLE_ATTRS = pa.array(['"'] + [f'" s="{k}"' for k in range(1, 3 + 2 * len(NUMBER_FORMATS))], type=pa.string())


def _style_ids(formats: str | np.ndarray | None, marked: np.ndarray) -> np.ndarray:
    """Cell style of each row: 0 plain, 2 filled, and per number format k 3 + 2k plain, 4 + 2k filled.

    ``formats`` is one number format for the whole column (or None), or one per row.
    """
    if formats is None or isinstance(formats, str):  # one format for the column: no per-row lookup
        code = np.full(len(marked), -1 if formats is None else _FORMAT_CODES.get(formats, -1), dtype=np.int64)
    else:
        code = pd.Series(np.asarray(formats, dtype=object), dtype=object).map(_FORMAT_CODES).fillna(-1).to_numpy(
            np.int64)
    return np.where(code < 0, np.where(marked, 2, 0), 3 + 2 * code + marked.astype(np.int64))


def _sheet_xml(frame: pd.DataFrame, marked: np.ndarray, widths: list[int], stream: IO[bytes],
               formats: dict | None = None) -> None:
    """Write one worksheet part: settings, a bold header, the rows (marked rows filled), in chunks.

    ``formats`` maps a column to a number format of :data:`NUMBER_FORMATS`, or to an array of them
    (None for none), one per row, where a column mixes units.
    """
    formats = formats or {}
    styles = {name: _style_ids(formats.get(name), marked) for name in frame.columns}
    n_cols = frame.shape[1]
    last = f"{column_letter(n_cols)}{len(frame) + 1}"
    cols = "".join(f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>' for i, w in enumerate(widths, start=1))
    header = "".join(f'<c r="{column_letter(i)}1" s="1" t="inlineStr"><is><t xml:space="preserve">{_attr(str(name))}'
                     f"</t></is></c>" for i, name in enumerate(frame.columns, start=1))
    stream.write((f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{_MAIN}">'
                  '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
                  'state="frozen"/><selection pane="bottomLeft" activeCell="A1" sqref="A1"/></sheetView></sheetViews>'
                  f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols><sheetData><row r="1">{header}</row>')
                 .encode("utf-8"))
    letters = [column_letter(i) for i in range(1, n_cols + 1)]

    def rows(start: int) -> pa.Array:
        part = frame.iloc[start:start + CHUNK_ROWS]
        row = pa.array(np.arange(len(part)) + start + 2).cast(pa.string())
        cells = [_cells(part[name].reset_index(drop=True),
                        _join('<c r="', letter, row, _style_attr(styles[name][start:start + CHUNK_ROWS])))
                 for letter, name in zip(letters, part.columns)]
        return _join('<row r="', row, '">', *cells, "</row>")

    # The next chunk's XML is built while this one is deflated: Arrow's kernels and zlib
    # both release the GIL, so the two overlap on two cores.
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = []
        for start in range(0, len(frame), CHUNK_ROWS):
            pending.append(pool.submit(rows, start))
            if len(pending) > 2:
                stream.write(_bytes(pending.pop(0).result()))
        for done in pending:
            stream.write(_bytes(done.result()))
    stream.write(f'</sheetData><autoFilter ref="A1:{last}"/></worksheet>'.encode("utf-8"))


def _style_attr(ids: np.ndarray) -> pa.Array:
    """The ``" s="k"`` that closes each cell's ``r`` attribute (just ``"`` for style 0)."""
    return _STYLE_ATTRS.take(pa.array(ids, type=pa.int64()))  # Arrow's take: no Python per cell


def _longest(values: pd.Series) -> int:
    """Characters of the longest value as written (empty cells count 0): the column's width."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        # Each distinct number once, as its shortest text (what a reader of the sheet sees).
        distinct = pd.unique(values.to_numpy())
        distinct = distinct[np.isfinite(distinct.astype(float))]
        return int(pd.Series(distinct).astype(str).str.len().max()) if len(distinct) else 0
    return int(pc.max(pc.utf8_length(text_array(values))).as_py() or 0)


def write_workbook(path: Path, sheets: list[tuple], *, fill_rgb: str) -> Path:
    """Write ``sheets`` (title, table, rows to fill[, number formats]) as an .xlsx file.

    The optional fourth element maps columns to number formats (:func:`_sheet_xml`).

    Every sheet gets a bold header row, a frozen header, an auto-filter over
    the table and column widths from its longest text (8–60 characters); the
    marked rows are filled with ``fill_rgb`` (e.g. ``"F8CBAD"``), empty cells
    included. NaN and None are empty cells; numbers stay numbers.
    """
    sheets = [tuple(sheet) + ({},) * (4 - len(sheet)) for sheet in sheets]
    titles = [sheet[0] for sheet in sheets]
    content = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
        f'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    workbook_sheets = "".join(
        f'<sheet name="{_attr(t)}" sheetId="{i}" r:id="rId{i}"/>' for i, t in enumerate(titles, 1)
    )
    filters = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">\'{_attr(t)}\'!$A$1:'
        f'${column_letter(f.shape[1])}${len(f) + 1}</definedName>' for i, (t, f, _, _) in enumerate(sheets))
    rels = "".join(f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                   for i in range(1, len(sheets) + 1))
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.sheet.main+xml"/><Override PartName="/xl/styles.xml" ContentType="application/'
            f'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>{content}</Types>'),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{_PKG}">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
            f'<sheets>{workbook_sheets}</sheets><definedNames>{filters}</definedNames></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{_PKG}">{rels}'
            f'<Relationship Id="rId{len(sheets) + 1}" Type="{_REL}/styles" Target="styles.xml"/></Relationships>'),
        # Cell styles: 0 plain, 1 bold header, 2 filled row, then per number format a plain and a filled one.
        "xl/styles.xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="{_MAIN}">'
            f'{_number_formats()}<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
            '<font><b val="1"/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
            '<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/>'
            f'</fill><fill><patternFill patternType="solid"><fgColor rgb="00{fill_rgb}"/></patternFill></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            f'<cellXfs count="{3 + 2 * len(NUMBER_FORMATS)}">'
            '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
            '<xf numFmtId="0" fontId="0" fillId="2" borderId="0" xfId="0" applyFill="1"/>'
            f'{_format_styles()}</cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'),
    }
    path = Path(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, text in parts.items():
            zf.writestr(name, text.encode("utf-8"))
        for i, (_, frame, marked, formats) in enumerate(sheets, start=1):
            widths = [max(8, min(60, _longest(frame[c]) + 2)) for c in frame.columns]
            with zf.open(f"xl/worksheets/sheet{i}.xml", "w", force_zip64=True) as stream:
                _sheet_xml(frame, np.asarray(marked, dtype=bool), widths, stream, formats)
    return path


def _number_formats() -> str:
    custom = [(i, code) for i, code in NUMBER_FORMATS.values() if code is not None]
    return (f'<numFmts count="{len(custom)}">'
            + "".join(f'<numFmt numFmtId="{i}" formatCode="{_attr(code)}"/>' for i, code in custom) + "</numFmts>")


def _format_styles() -> str:
    """Per number format, a plain and a filled cell style (ids 3 + 2k and 4 + 2k)."""
    return "".join(f'<xf numFmtId="{i}" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
                   f'<xf numFmtId="{i}" fontId="0" fillId="2" borderId="0" xfId="0" applyNumberFormat="1" '
                   'applyFill="1"/>' for i, _ in NUMBER_FORMATS.values())
