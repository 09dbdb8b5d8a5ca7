"""Registries as street offices get them: title rows, two-row headers, 序号, blank, note and total rows,
category words of Chinese plans, and the fill-in template read back.

Every registry here is test input built in the test (openpyxl workbooks and CSVs shaped like the
lists a 民政局 or 卫健委 sends); the facility names and points are made up and near Hexi, Tianjin.
"""

import re

import numpy as np
import openpyxl
import pandas as pd
import pytest

from servicecircle import cli, registries, sheets
from servicecircle.config import ConfigError, Registry, make_config
from servicecircle.inputs import InputReport

# Test input: the rows of a 民政局-style list. Row numbers are as the spreadsheet shows them.
TITLE = "河西区养老服务机构名录"
HEADER_TOP = ["序号", "机构名称", "类别", "坐标", None, "地址", "床位数（张）"]
HEADER_LOW = [None, None, None, "经度", "纬度", None, None]
BODY = [  # (spreadsheet row, cells)
    (4, [1, "友谊路社区养老驿站", "社区养老驿站", 117.2150, 39.0900, "友谊路1号", 20]),
    (5, [2, "河西长者食堂", "长者食堂", 117.2200, 39.0950, "解放南路2号", None]),
    (6, [None] * 7),                                                           # blank row inside the table
    (7, ["二、托育机构", None, None, None, None, None, None]),                 # section heading
    (8, [3, "小海豚托育园", "托育园", 117.2250, 39.1000, None, None]),
    (9, [4, "河西区老年大学", "老年大学", 117.2300, 39.1000, None, None]),       # a school
    (10, [5, "测试日间照料中心", "日间照料中心（含助餐点）", 117.2310, 39.1010, None, 10]),  # two categories' words
    (11, [6, "测试健身驿站", "健身驿站", 117.2320, 39.1020, None, None]),          # unknown word
    (12, [7, "测试老年助餐服务点", "老年助餐服务点", 117.2330, 39.1030, None, None]),
    (13, ["合计", None, None, None, None, None, 30]),
    (14, ["注：坐标取自高德地图（GCJ-02）。"] + [None] * 6),
    (15, ["2.数据截至2024年6月。"] + [None] * 6),                                # the note goes on
    (16, ["填报单位：河西区民政局", None, None, None, "填报日期：2024-06-30", None, None]),
]
FACILITIES = {4: ("友谊路社区养老驿站", "elder_care"), 5: ("河西长者食堂", "canteen"), 8: ("小海豚托育园", "nursery"),
              10: ("测试日间照料中心", "elder_care"), 12: ("测试老年助餐服务点", "canteen")}
#: Row → (field, start of the problem, action) in the input report, in English.
EXPECTED_LINES = {
    1: ("序号", f'title or note above the header (header: row 2–3): "{TITLE}"', "skipped"),
    6: ("", "blank row", "skipped"),
    7: ("序号", 'section heading row: "二、托育机构"', "skipped"),
    9: ("类别", "category '老年大学' is a school", "dropped"),
    10: ("类别", "category '日间照料中心（含助餐点）' has words of both 养老服务 and 老年助餐", "read as 养老服务"),
    11: ("类别", "unknown category '健身驿站'", "dropped"),
    13: ("序号", 'note, signature or total row: "合计"', "skipped"),
    14: ("序号", 'note, signature or total row: "注：坐标取自高德地图（GCJ-02）。"', "skipped"),
    15: ("序号", 'note, signature or total row: "2.数据截至2024年6月。"', "skipped"),
    16: ("序号", 'note, signature or total row: "填报单位：河西区民政局"', "skipped"),
}


def _categories():
    return make_config({"area": {"name": "t", "bbox": [117.1, 39.0, 117.3, 39.2]}}).categories


def _read(path, lang="en", **kw):
    report = InputReport(lang=lang)
    facs = registries.read_registry(Registry(path=path, **kw), _categories(), report)
    return facs, report.frame()


def _government_workbook(path):
    """The list as an XLSX: merged title, 坐标 merged over 经度/纬度, the other headers merged down two rows."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "名录"
    ws.append([TITLE])
    ws.merge_cells("A1:G1")
    ws.append(HEADER_TOP)
    ws.append(HEADER_LOW)
    for col in "ABCFG":
        ws.merge_cells(f"{col}2:{col}3")
    ws.merge_cells("D2:E2")
    for row, cells in BODY:
        ws.append(cells)
        if row in (7, 14, 15):  # section and notes merged across the table, as printed lists do
            ws.merge_cells(f"A{row}:G{row}")
    wb.save(path)
    return path


def _government_csv(path, encoding):
    """The same list as Excel saves it to CSV: merges gone, the title alone on its line (no trailing commas)."""
    def cells(values):
        return ",".join("" if v is None else str(v) for v in values)
    lines = [TITLE, cells(HEADER_TOP), cells(HEADER_LOW)] + [cells(c) for _, c in BODY]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def _check(facs, report, path):
    assert {int(r): (n, c) for r, n, c in zip(facs["registry_row"], facs["name"], facs["category"])} == FACILITIES
    assert facs.loc[facs["registry_row"] == 4, "beds"].iloc[0] == 20  # 床位数（张） read though merged down
    assert facs.loc[facs["registry_row"] == 10, "beds"].iloc[0] == 10
    assert np.allclose(facs.geometry.x, [117.2150, 117.2200, 117.2250, 117.2310, 117.2330])
    assert set(report["file"]) == {str(path)}
    lines = {int(r): (f, p, a) for r, f, p, a in zip(report["row"], report["field"], report["problem"],
                                                      report["action"])}
    assert sorted(lines) == sorted(EXPECTED_LINES)
    for row, (field, problem, action) in EXPECTED_LINES.items():
        got = lines[row]
        assert got[0] == field and got[1].startswith(problem) and got[2].startswith(action), (row, got)
    # Every spreadsheet row is accounted for: a header row, a facility, or a line saying why not.
    kept, not_kept = set(facs["registry_row"]), set(report.loc[~report["action"].str.startswith("read as"), "row"])
    assert kept | not_kept | {2, 3} == set(range(1, BODY[-1][0] + 1)) and not kept & not_kept


def test_a_government_workbook_is_read_as_it_comes(tmp_path):
    path = _government_workbook(tmp_path / "养老机构名录.xlsx")
    facs, report = _read(path)
    _check(facs, report, path)


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig"])
def test_the_same_list_as_a_chinese_csv(tmp_path, encoding):
    path = _government_csv(tmp_path / f"名录_{encoding}.csv", encoding)
    facs, report = _read(path)
    _check(facs, report, path)


def test_report_lines_are_in_the_run_language(tmp_path):
    path = _government_workbook(tmp_path / "名录.xlsx")
    _, zh = _read(path, lang="zh")
    _, en = _read(path, lang="en")
    assert len(zh) == len(en) and list(zh["row"]) == list(en["row"])
    mine = zh["row"].isin([1, 6, 7, 9, 10, 13, 14, 15, 16])  # the lines this module words (not 'unknown category')
    ascii_words = re.compile(r"[A-Za-z]{3,}")
    stripped = zh.loc[mine, "problem"].str.replace(r"“.*?”|category_values", "", regex=True)
    assert not stripped.str.contains(ascii_words).any(), list(zh.loc[mine, "problem"])
    assert zh.loc[zh["row"] == 6, "problem"].iloc[0] == "空行"
    assert en.loc[en["row"] == 6, "problem"].iloc[0] == "blank row"
    assert zh.loc[zh["row"] == 9, "action"].iloc[0] == "未计入"


def test_the_header_row_given_in_the_config(tmp_path):
    # Test input: a header that names no known column, so only the config can say where it is.
    path = tmp_path / "list.csv"
    path.write_text("名单\n单位,种类,东经,北纬\n甲社区养老驿站,养老驿站,117.21,39.09\n", encoding="utf-8")
    columns = (("name", "单位"), ("category", "种类"), ("lon", "东经"), ("lat", "北纬"))
    facs, report = _read(path, header_row=(2,), columns=columns)
    assert list(facs["name"]) == ["甲社区养老驿站"] and list(facs["registry_row"]) == [3]
    assert list(report["row"]) == [1]  # the title above the given header
    # Found from the config's column names too, without header_row.
    facs, _ = _read(path, columns=columns)
    assert list(facs["registry_row"]) == [3]
    with pytest.raises(Exception, match=r"header_row 9 is beyond the sheet's last row \(3\)") as caught:
        _read(path, header_row=(9,), columns=columns)
    # Worded in the run's language: Chinese under zh, the English of str() under en.
    assert caught.value.worded("zh") == f"{path}：header_row 9 超出了工作表的最后一行（第 3 行）"
    assert caught.value.worded("en") == str(caught.value)


@pytest.mark.parametrize("value, message", [(0, "from 1"), ([2, 4], "consecutive"), ([1, 2, 3, 4], "consecutive"),
                                            (True, "expected int or list"), (["2"], "from 1")])
def test_header_row_is_validated(value, message):
    base = {"area": {"name": "t", "bbox": [117.1, 39.0, 117.3, 39.2]}}
    with pytest.raises(ConfigError, match=rf"facilities.registries\[0\].header_row.*{message}"):
        make_config({**base, "facilities": {"registries": [{"file": "x.xlsx", "header_row": value}]}})
    cfg = make_config({**base, "facilities": {"registries": [{"file": "x.xlsx", "header_row": [2, 3]}]}})
    assert cfg.facilities.registries[0].header_row == (2, 3)


def test_a_csv_header_over_two_rows_and_a_street_merged_down_a_group(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["所属街道", "名称", "类别", "坐标", None])
    ws.append([None, None, None, "经度", "纬度"])
    ws.append(["友谊路街道", "甲养老驿站", "养老驿站", 117.21, 39.09])
    ws.append([None, "乙长者食堂", "长者食堂", 117.22, 39.10])
    ws.merge_cells("A3:A4")  # the street written once for its two facilities
    ws.merge_cells("D1:E1")
    path = tmp_path / "grouped.xlsx"
    wb.save(path)
    table = sheets.read_sheet(path, what="registry", aliases=registries.COLUMN_ALIASES, report=InputReport())
    assert list(table.columns) == ["所属街道", "名称", "类别", "经度", "纬度", "_row"]
    assert list(table["所属街道"]) == ["友谊路街道", "友谊路街道"] and list(table["_row"]) == [3, 4]


def test_a_first_row_without_numbers_is_data_and_a_lower_header_of_unknown_names_is_header(tmp_path):
    # Test input: 坐标 in one cell and 普惠 (a header word) in the first row; 床位 over 总数/护理型.
    path = tmp_path / "two.csv"
    path.write_text("名称,类别,坐标,是否普惠\n甲托育园,托育园,\"117.21,39.09\",普惠\n乙长者食堂,长者食堂,\"117.22,39.10\",否\n",
                    encoding="utf-8")
    facs, report = _read(path)
    assert list(facs["registry_row"]) == [2, 3] and list(facs["affordable"]) == [True, False] and len(report) == 0
    path = tmp_path / "beds.csv"
    path.write_text("名称,坐标,,床位,\n,经度,纬度,总数,护理型\n甲养老院,117.21,39.09,50,20\n", encoding="utf-8")
    table = sheets.read_sheet(path, what="registry", aliases=registries.COLUMN_ALIASES, report=InputReport())
    assert list(table.columns) == ["名称", "经度", "纬度", "床位/总数", "床位/护理型", "_row"]
    assert list(table["_row"]) == [3]
    facs, report = _read(path, columns=(("beds", "床位/总数"),))
    assert facs["beds"].iloc[0] == 50 and list(facs["category"]) == ["elder_care"]
    assert list(report["field"]) == ["category"]  # no category column: read from the name, and said so


@pytest.mark.parametrize("word, category", [
    ("社区养老驿站", "elder_care"), ("日间照料中心", "elder_care"), ("养老服务中心", "elder_care"),
    ("街道综合养老服务中心（嵌入式）", "elder_care"), ("长者食堂", "canteen"), ("助餐点", "canteen"),
    ("老年助餐服务点", "canteen"), ("托育园", "nursery"), ("托育中心", "nursery"), ("托儿所", "nursery"),
    ("普惠托育点", "nursery"), ("老年大学", None), ("妇幼保健院", None), ("人民食堂", None), ("幼儿园", None),
    ("健身驿站", None), ("社区食堂", None),
])
def test_category_words_of_chinese_plans(word, category):
    assert registries.category_of(word, _categories(), {}) == category


def test_a_registry_may_still_say_what_an_excluded_word_means():
    assert registries.category_of("老年大学", _categories(), {"老年大学": "elder_care"}) == "elder_care"
    assert registries.not_a_category("河西区妇幼保健院") == "hospital"
    assert registries.category_words_in("日间照料中心（含助餐点）", _categories()) == ["elder_care", "canteen"]


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_template_reads_back_with_its_example_skipped_until_rewritten(tmp_path, suffix, lang):
    path = tmp_path / f"registry{suffix}"
    assert cli.main(["template", str(path), "--lang", lang]) == 0
    headers = sheets.read_sheet(path, what="registry", aliases=registries.COLUMN_ALIASES, report=InputReport())
    found = registries.recognise_columns([c for c in headers.columns if c != "_row"], {})
    assert set(found) == {c[0] for c in sheets.TEMPLATE_COLUMNS} - {"serial"}  # every header recognised
    facs, report = _read(path)
    assert len(facs) == 0 and list(report["row"]) == [2]
    assert report["problem"].iloc[0].startswith("the template's example row") and report["action"].iloc[0] == \
        "skipped (not a facility)"
    # The office types over the example: it is a facility now.
    if suffix == ".xlsx":
        wb = openpyxl.load_workbook(path)
        ws = wb.worksheets[0]
        ws["B2"], ws["D2"], ws["E2"] = "友谊路社区养老驿站", 117.2150, 39.0900
        wb.save(path)
        assert wb.worksheets[1].max_row > len(sheets.TEMPLATE_COLUMNS)  # the instructions sheet
    else:
        form = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        form.iloc[0, 1:5] = ["友谊路社区养老驿站", "社区养老驿站", "117.2150", "39.0900"]
        form.to_csv(path, index=False, encoding="utf-8-sig")
    facs, report = _read(path)
    assert list(facs["name"]) == ["友谊路社区养老驿站"] and list(facs["category"]) == ["elder_care"]
    assert list(facs["registry_row"]) == [2] and facs["beds"].iloc[0] == 20 and len(report) == 0
    # An existing file, perhaps an office's filled-in list, is not overwritten without --force.
    assert cli.main(["template", str(path)]) == 2
    assert cli.main(["template", str(path), "--force"]) == 0
