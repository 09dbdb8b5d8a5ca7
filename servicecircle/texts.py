"""Every text the report page (``index.html``) and the map (``map.html``) show: one catalogue.

One entry per key, each holding its Chinese (``zh``, the default language) and
English (``en``) text; ``{name}`` placeholders are filled with :meth:`str.format`.
Keys are grouped by a prefix: ``report.`` the report page, ``methods.`` its
methods and data list, ``map.`` the map (those without a placeholder also reach
the map's script as ``UI.text``), ``legend.``/``panel.``/``popup.`` the map's
legend, scorecard panel and popups, ``script.`` the texts the map's script
composes (all reach it as ``UI.text``, placeholders filled there), ``notes.`` what was
found per category,
``kind.``/``level.`` the scorecard's goal kinds and unit levels. Templates
reach it through ``t(key, **values)``, which raises on a key that is not here
(tests/test_pages.py checks every key the templates and the page code name,
and that every entry has both languages with the same placeholders).
"""

from __future__ import annotations

from typing import Any

#: The languages every text has, zh first (the default).
LANGUAGES = ("zh", "en")

TEXTS: dict[str, dict[str, str]] = {
    # ---- the report page (index.html)
    'report.title': {'zh': '一刻钟服务圈评估报告', 'en': '15-minute service circle report'},
    'report.goals': {'zh': '目标与现状（全区）', 'en': 'Goals versus actual (district)'},
    'report.map': {'zh': '地图', 'en': 'Map'},
    'report.open_map': {'zh': '全屏打开地图', 'en': 'open the map full screen'},
    'report.charts': {'zh': '图表', 'en': 'Charts'},
    'report.walk_chart': {
        'zh': '各类设施步行时间分布（居民数，按分钟）',
        'en': 'Walk time to the nearest facility (residents by minute)',
    },
    'report.comm_chart': {
        'zh': '社区覆盖率分布（社区数，按15分钟覆盖居民比例）',
        'en': 'Coverage by community (communities by share of residents within 15 min)',
    },
    'report.curve_chart': {'zh': '选址覆盖曲线（新增点位数 → 覆盖比例）', 'en': 'Siting curve (new sites → covered share)'},
    'report.scorecard': {'zh': '街道与社区评估表（点击表头排序）', 'en': 'Street and community scorecard (click a header to sort)'},
    'report.gaps': {'zh': '缺口', 'en': 'Gaps'},
    'report.blind': {'zh': '盲区（每类最大的5处）', 'en': 'Blind spots (5 largest of each category)'},
    'report.adjacency': {
        'zh': '医养结合：养老设施到最近卫生服务设施的步行时间',
        'en': '医养结合: walk from each elder-care facility to the nearest health centre',
    },
    'report.capacity': {'zh': '按容量的可达性（2SFCA）', 'en': 'Capacity-aware access (2SFCA)'},
    'report.methods': {'zh': '方法与数据', 'en': 'Methods and data'},
    'report.found': {'zh': '设施数据情况', 'en': 'What the data holds'},
    'report.goal': {'zh': '指标', 'en': 'goal'},
    'report.kind': {'zh': '性质', 'en': 'kind'},
    'report.meaning': {'zh': '口径', 'en': 'meaning'},
    'report.value': {'zh': '现状', 'en': 'actual'},
    'report.target': {'zh': '目标', 'en': 'target'},
    'report.passed': {'zh': '达标', 'en': 'met'},
    'report.gap': {'zh': '差距', 'en': 'gap'},
    'report.unit': {'zh': '单位', 'en': 'unit'},
    'report.level': {'zh': '层级', 'en': 'level'},
    'report.category': {'zh': '类别', 'en': 'category'},
    'report.residents': {'zh': '居民', 'en': 'residents'},
    'report.cells': {'zh': '网格数', 'en': 'cells'},
    'report.nearest': {'zh': '最近步行（分钟）', 'en': 'nearest walk (min)'},
    'report.nearest_name': {'zh': '最近设施', 'en': 'nearest facility'},
    'report.communities': {'zh': '涉及社区', 'en': 'communities'},
    'report.facility': {'zh': '设施', 'en': 'facility'},
    'report.walk': {'zh': '步行（分钟）', 'en': 'walk (min)'},
    'report.health': {'zh': '最近卫生服务设施', 'en': 'nearest health centre'},
    'report.within': {'zh': '邻近', 'en': 'adjacent'},
    'report.per1000': {'zh': '每千人（需求人群）', 'en': 'per 1,000 of the demand group'},
    'report.used': {'zh': '纳入设施', 'en': 'facilities used'},
    'report.without': {'zh': '无容量数据', 'en': 'without capacity'},
    'report.none': {'zh': '无', 'en': 'none'},
    'report.minutes': {'zh': '分钟', 'en': 'min'},
    'report.unreachable': {'zh': '不可达', 'en': 'unreachable'},
    'report.share': {'zh': '覆盖比例', 'en': 'covered share'},
    'report.count': {'zh': '社区数', 'en': 'communities'},
    'report.k': {'zh': '新增点位', 'en': 'new sites'},
    'report.no_blind': {'zh': '无盲区', 'en': 'no blind spot'},
    'report.no_capacity': {
        'zh': '无容量数据：需导入含床位/托位/供餐数的登记表',
        'en': 'no capacities: load a registry with beds / places / meals',
    },
    'report.scorecard_capped': {
        'zh': '评估表较大：此处列出各街道（多于{units}个时为最差的{units}个）和未达约束性指标最严重的至多{units}个社区'
              '（按未达约束性指标数、再按未达指标数排序）；另有{rows:,}行（{more:,}个单位）见 scorecard.xlsx / scorecard.csv。',
        'en': 'The scorecard is large: shown are the streets (the {units} worst when there are more) and at most '
              '{units} communities failing a binding goal, worst first (most binding goals failed, then most goals '
              'failed); {rows:,} more rows ({more:,} units) are in scorecard.xlsx / scorecard.csv.',
    },
    'report.blind_more': {
        'zh': '另有{n:,}处盲区见 blind_spots.csv。',
        'en': '{n:,} more blind spots are in blind_spots.csv.',
    },
    'report.adjacency_capped': {
        'zh': '此处列出{shown:,}个设施（先列不邻近的，步行最远者在前）；另有{n:,}个见 health_adjacency.csv。',
        'en': 'Shown are {shown:,} facilities (those not adjacent first, longest walk first); {n:,} more are in '
              'health_adjacency.csv.',
    },
    'report.unit_name': {'zh': '名称', 'en': 'unit'},
    'report.street': {'zh': '街道', 'en': 'street'},
    'report.config': {'zh': '配置', 'en': 'config'},
    # ---- the map (map.html); keys without a {placeholder} also reach the page's script as UI.text
    'map.walk_time': {'zh': '步行时间', 'en': 'Walk time'},
    'map.walk_title': {'zh': '到最近设施的步行时间', 'en': 'walk time to the nearest facility'},
    'map.minutes': {'zh': '分钟', 'en': 'min'},
    'map.gap': {'zh': '缺口', 'en': 'gap'},
    'map.residents': {'zh': '居民', 'en': 'residents'},
    'map.nearest': {'zh': '最近设施', 'en': 'nearest'},
    'map.none_reachable': {'zh': '不可达', 'en': 'none reachable'},
    'map.cell': {'zh': '网格', 'en': 'cell'},
    'map.complete': {'zh': '完整{t:g}分钟服务圈', 'en': 'Complete {t:g}-minute circle'},
    'map.complete_yes': {'zh': '完整', 'en': 'complete'},
    'map.complete_no': {'zh': '不完整', 'en': 'incomplete'},
    'map.service_area': {'zh': '{m:g}分钟服务范围', 'en': '{m:g}-min service area'},
    'map.facilities': {'zh': '设施', 'en': 'Facilities'},
    'map.communities': {'zh': '社区（点击查看评估）', 'en': 'Communities (click for scorecard)'},
    'map.outline_district': {'zh': '研究范围边界', 'en': 'Study area outline'},
    'map.outline_street': {'zh': '街道边界与名称', 'en': 'Street outlines and names'},
    'map.outline_community': {'zh': '社区边界与名称', 'en': 'Community outlines and names'},
    'map.found': {'zh': '数据情况', 'en': 'What was found'},
    'map.populated_only': {'zh': '仅显示有人居住的H3网格', 'en': 'populated H3 cells only'},
    'map.no_library': {
        'zh': '地图库（Leaflet）未能从网络（CDN）加载，因此地图为空白。本页以 --cdn 生成，需要互联网；'
              '在无外网的内网环境中，请去掉 --cdn（或设 [output] offline = true）重新运行，生成自带地图库的页面。',
        'en': 'The map library (Leaflet) could not be loaded from its CDN, so the map is empty. This page was '
              'written with --cdn and needs the internet; on an intranet, run again without --cdn (or with '
              '[output] offline = true) for a self-contained page.',
    },
    'map.basemap': {'zh': '底图', 'en': 'Basemap'},
    'map.basemap_none': {'zh': '无底图', 'en': 'no basemap'},
    'map.shifted': {
        'zh': '叠加图层已转换为GCJ-02以对齐底图，分析仍采用WGS-84',
        'en': 'overlays shifted to GCJ-02 to match the tiles; the analysis stays in WGS-84',
    },
    'map.wgs': {'zh': '底图与图层均为WGS-84', 'en': 'tiles and overlays in WGS-84'},
    'map.speed': {'zh': '步行速度 {v:g} m/s（{p}）', 'en': 'walking {v:g} m/s ({p})'},
    'map.scorecard': {'zh': '目标评估', 'en': 'Scorecard'},
    'map.no_scorecard': {'zh': '该社区无评估记录', 'en': 'no scorecard rows for this community'},
    'map.blind': {'zh': '盲区（>{t:g}分钟）', 'en': 'Blind spots (> {t:g} min)'},
    'map.no_facility_at_all': {'zh': '无任何设施', 'en': 'no facility at all'},
    'map.proposed': {'zh': '拟建选址', 'en': 'Proposed sites'},
    'map.source': {'zh': '来源', 'en': 'source'},
    'map.counted': {'zh': '计入', 'en': 'counted'},
    'map.not_counted': {'zh': '未计入', 'en': 'not counted'},
    'map.off_network': {'zh': '距步行路网过远，不服务任何居民', 'en': 'off-network (reaches nobody)'},
    'map.aggregate': {'zh': 'H3 {r} 级汇总，放大查看单个网格', 'en': 'H3 resolution {r} aggregate: zoom in for single cells'},
    'map.median': {'zh': '居民步行时间中位数', 'en': 'median walk of residents'},
    'map.within': {'zh': '{t:g}分钟内', 'en': 'within {t:g} min'},
    'map.complete_share': {'zh': '完整服务圈居民比例', 'en': 'residents in a complete circle'},
    'map.blind_spot': {'zh': '盲区', 'en': 'blind spot'},
    'map.coarse': {'zh': '缩小时显示较粗的H3汇总（{r} 级）', 'en': 'zoomed out: coarser H3 aggregates (resolution {r})'},
    'map.panel_more': {
        'zh': '另有 {n} 个未达约束性目标的社区见 scorecard.xlsx',
        'en': '{n} more communities failing a binding goal are in scorecard.xlsx',
    },
    'map.panel_level': {
        'zh': '{level}（{units}）：{fails} 个未达约束性目标',
        'en': '{level} ({units}): {fails} failing a binding goal',
    },
    'popup.proposed_where': {'zh': '{street} {community}，最近道路：{road}', 'en': '{street} {community}, nearest road: {road}'},
    'popup.proposed_tooltip': {'zh': '拟建 #{rank}', 'en': 'proposed #{rank}'},
    'popup.care_walk': {
        'zh': '医养结合：步行 {walk} 分钟到 {name}（{verdict} {limit} 分钟）',
        'en': '医养结合: {walk} min walk to {name} ({verdict} {limit} min)',
    },
    'popup.care_within': {'zh': '未超出', 'en': 'within'},
    'popup.care_beyond': {'zh': '超出', 'en': 'beyond'},
    'popup.care_note': {'zh': '医养结合：{note}', 'en': '医养结合: {note}'},
    # ---- texts the map's script composes (all reach it as UI.text; {placeholders} filled there)
    'script.unnamed': {'zh': '（未命名）', 'en': '(unnamed)'},
    'script.registry_row': {'zh': '{file} 第 {row} 行', 'en': '{file} row {row}'},
    'script.affordable': {'zh': '普惠：{answer}', 'en': '普惠 affordable: {answer}'},
    'script.yes': {'zh': '是', 'en': 'yes'},
    'script.no': {'zh': '否', 'en': 'no'},
    'script.blind_cells': {'zh': '网格数', 'en': 'cells'},
    'script.blind_residents': {'zh': '居民', 'en': 'residents'},
    'script.blind_demand_residents': {'zh': '其中需求人群', 'en': 'of them in the demand group'},
    'script.blind_demand': {'zh': '需求人群', 'en': 'demand group'},
    'script.blind_walk': {'zh': '到最近设施的最短步行（分钟）', 'en': 'shortest walk to a facility (min)'},
    'script.blind_unreachable': {'zh': '无可达设施', 'en': 'no facility reachable'},
    'script.blind_nearest': {'zh': '最近设施', 'en': 'nearest facility'},
    'script.blind_communities': {'zh': '涉及社区', 'en': 'communities'},
    'script.col_unit': {'zh': '单位', 'en': 'unit'},
    'script.col_goal': {'zh': '指标', 'en': 'goal'},
    'script.col_kind': {'zh': '性质', 'en': 'kind'},
    'script.col_meaning': {'zh': '口径', 'en': 'meaning'},
    'script.col_value': {'zh': '现状', 'en': 'actual'},
    'script.col_target': {'zh': '目标', 'en': 'target'},
    'script.col_passed': {'zh': '达标', 'en': 'met'},
    'script.col_gap': {'zh': '差距', 'en': 'gap'},
    'script.proposed_site': {'zh': '拟建选址 #{rank}', 'en': 'Proposed site #{rank}'},
    'script.proposed_gain': {'zh': '新增覆盖 {gain} {weight}', 'en': '+{gain} {weight} covered'},
    'script.proposed_after': {'zh': '新增后覆盖比例：{share}%', 'en': 'covered share after: {share}%'},
    # ---- what was found per category (summary.category_notes: the pages, and in English summary.json)
    'notes.none_osm_or_registries': {
        'zh': 'OSM 和登记表中均无{label}（{key}）设施',
        'en': 'no {label} ({key}) facility in OSM or the registries',
    },
    'notes.none_registries': {'zh': '登记表中无{label}（{key}）设施', 'en': 'no {label} ({key}) facility in the registries'},
    'notes.none_in_osm': {
        'zh': 'OSM 中此处无{label}（{key}）设施 — 请导入登记表',
        'en': 'OSM lists no {label} ({key}) facility here — load a registry',
    },
    'notes.none_no_data': {
        'zh': '无{label}（{key}）设施：本次运行未读取 OSM 数据和登记表 — 请导入登记表',
        'en': 'no {label} ({key}) facility: this run reads no OSM data and no registry — load a registry',
    },
    'notes.from_source': {'zh': '{n} 个来自 {source}', 'en': '{n} from {source}'},
    'notes.from_both': {'zh': '{n} 个同时见于 OSM 和登记表', 'en': '{n} in both OSM and a registry'},
    'notes.join': {'zh': '，', 'en': ', '},
    'notes.found': {'zh': '{n} 个{label}（{key}）设施（{parts}）', 'en': '{n} {label} ({key}) facilities ({parts})'},
    'notes.off_network': {
        'zh': '，其中 {n} 个距步行路网过远（超过吸附距离），不服务任何居民',
        'en': ', {n} of them off-network (> snap distance) and reaching nobody',
    },
    'notes.not_counted': {'zh': '；{n} 个已列出但未计入（{why}）', 'en': '; {n} listed but not counted ({why})'},
    'notes.flagged': {'zh': '已标记', 'en': 'flagged'},
    # ---- scorecard kinds and levels (the scorecard files use the Chinese ones)
    'kind.binding': {'zh': '约束性', 'en': 'binding'},
    'kind.advisory': {'zh': '倡导性', 'en': 'advisory'},
    'level.district': {'zh': '区', 'en': 'district'},
    'level.street': {'zh': '街道', 'en': 'street'},
    'level.community': {'zh': '社区', 'en': 'community'},
    # ---- the report page's methods and data list
    'methods.data_date': {'zh': '数据日期', 'en': 'data date'},
    'methods.roads': {'zh': '道路线', 'en': 'road lines'},
    'methods.communities': {'zh': '社区边界', 'en': 'communities 社区'},
    'methods.streets': {'zh': '街道边界', 'en': 'streets 街道'},
    'methods.census': {'zh': '第七次人口普查 2020', 'en': 'census 七普 2020'},
    'methods.census_code': {'zh': '，代码 {code}', 'en': ', code {code}'},
    'methods.population_file': {'zh': '人口数据', 'en': 'population 人口'},
    'methods.registry': {'zh': '登记表', 'en': 'registry 登记表'},
    'methods.webmap': {'zh': '网络地图兴趣点', 'en': 'web-map POIs'},
    'methods.geocoder': {'zh': '地址解析', 'en': 'geocoding'},
    'methods.geocoder_value': {
        'zh': '{service}：登记表中 {rows} 行按地址解析坐标（精度不低于 {precision}，其余列入 geocode_review.csv）',
        'en': '{service}: {rows} registry rows placed by their address (precision {precision} or finer; the others '
              'are listed in geocode_review.csv)',
    },
    'methods.webmap_value': {
        'zh': '{service}，{date} 获取：{fetched} 个兴趣点，采用 {kept} 个（GCJ-02/BD-09 已转为 WGS-84，依服务条款使用）',
        'en': '{service}, fetched {date}: {fetched} POIs, {kept} kept (GCJ-02/BD-09 converted to WGS-84; '
              "used under the service's terms)",
    },
    'methods.downloaded': {'zh': '{name}（已下载，见缓存）', 'en': '{name} (downloaded; see the cache)'},
    'methods.file_dated': {
        'zh': '{name} — 文件日期 {date}，{mb:.1f} MB{extra}',
        'en': '{name} — file dated {date}, {mb:.1f} MB{extra}',
    },
    'methods.newest_element': {'zh': '；最新要素时间 {stamp}', 'en': '; newest element {stamp}'},
    'methods.no_timestamps': {'zh': '；文件不含要素时间戳', 'en': '; the file carries no element timestamps'},
    'methods.scaled_to': {'zh': '；按 {total} 缩放', 'en': '; scaled to {total}'},
    'methods.basemap_none': {'zh': '无', 'en': 'none'},
    'methods.basemap_shifted': {'zh': ' — 叠加图层已转换为GCJ-02显示', 'en': ' — overlays shifted to GCJ-02 for display'},
    'methods.walking_speed': {'zh': '步行速度', 'en': 'walking speed'},
    'methods.speed_value': {
        'zh': '{v:g} m/s（{profile}）；各类别：{per_category}',
        'en': '{v:g} m/s ({profile}); per category: {per_category}',
    },
    'methods.thresholds': {'zh': '时间阈值', 'en': 'thresholds'},
    'methods.threshold_value': {'zh': '{t:g} 分钟', 'en': '{t:g} min'},
    'methods.covered_within': {'zh': '；覆盖 = {t:g} 分钟以内', 'en': '; covered = within {t:g} min'},
    'methods.decay': {'zh': '2SFCA 距离衰减', 'en': '2SFCA decay'},
    'methods.population': {'zh': '人口', 'en': 'population'},
    'methods.h3': {'zh': 'H3 分辨率', 'en': 'H3 resolution'},
    'methods.h3_value': {'zh': '{r}（网格边长约 {edge:.0f} m）', 'en': '{r} (cell ≈ {edge:.0f} m edge)'},
    'methods.network': {'zh': '步行路网', 'en': 'network'},
    'methods.network_value': {'zh': '{nodes} 个节点，{edges} 条边', 'en': '{nodes} nodes, {edges} edges'},
    'methods.basemap': {'zh': '底图', 'en': 'basemap'},
    'methods.software': {'zh': '软件', 'en': 'software'},
    'methods.config_hash': {'zh': '配置哈希', 'en': 'config hash'},
    'methods.map_data': {'zh': '地图数据', 'en': 'map data'},
    # ---- map page texts formatted here only (the legend, the scorecard panel, popups)
    'legend.map_data': {'zh': '地图数据', 'en': 'Map data'},
    'legend.area_note': {
        'zh': '服务范围按 {tolerance:g} m 简化显示，未画面积小于 {cut:,.0f} m² 的内部空洞（GeoPackage 保留精确范围）',
        'en': 'service areas drawn simplified to {tolerance:g} m, holes under {cut:,.0f} m² left out (the '
              'GeoPackage keeps the exact areas)',
    },
    'panel.title': {'zh': '目标评估', 'en': 'Scorecard'},
    'panel.hint': {'zh': '（点击表头排序；未达约束性目标者在前）', 'en': '(click a header to sort; binding failures first)'},
    'panel.district': {'zh': '区', 'en': 'district'},
    'popup.beds': {'zh': '床位', 'en': 'beds'},
    'popup.nursery_places': {'zh': '托位', 'en': 'nursery places'},
    'popup.meals_per_day': {'zh': '日供餐', 'en': 'meals/day'},
    'popup.ownership': {'zh': '性质', 'en': 'ownership'},
    'popup.address': {'zh': '地址', 'en': 'address'},
    # ---- population fallback and checks (issue 13: estimates marked, walks rounded up, off-network facilities)
    'report.blind_fallback': {
        'zh': '（其中 {n} 人所在社区内无步行道路，按社区面积估算）',
        'en': ' ({n} of them live in communities with no walkable street inside: estimated from the area)',
    },
    'legend.population_fallback': {
        'zh': '※ {n} 名居民所在社区内无步行道路，按社区面积均摊到网格估算（网格与盲区弹窗中注明）',
        'en': '※ {n} residents live in communities with no walkable street inside: spread over the '
              "community's area, an estimate (cell and blind-spot popups say so)",
    },
    'script.fallback_cell': {
        'zh': '其中 {n} 人按社区面积估算（社区内无步行道路）',
        'en': "{n} of them estimated from the community's area (no walkable street inside)",
    },
    'script.fallback_blind': {'zh': '其中按社区面积估算', 'en': 'of them estimated from area'},
    'report.note_column': {'zh': '说明', 'en': 'note'},
    # ---- government lists: registries as offices have them (sheets.py) and the fill-in template
    'sheet.above_header': {
        'zh': '表头（第 {rows} 行）之上的标题或说明：“{text}”',
        'en': 'title or note above the header (header: row {rows}): "{text}"',
    },
    'sheet.skipped': {'zh': '跳过（不是设施）', 'en': 'skipped (not a facility)'},
    'sheet.blank_row': {'zh': '空行', 'en': 'blank row'},
    'sheet.note_row': {'zh': '注释、落款或合计行：“{text}”', 'en': 'note, signature or total row: "{text}"'},
    'sheet.section_row': {'zh': '分组标题行：“{text}”', 'en': 'section heading row: "{text}"'},
    'sheet.example_row': {
        'zh': '模板的示例行（“{name}”）：改写成真实设施后才计入',
        'en': 'the template\'s example row ("{name}"): counted once rewritten as a real facility',
    },
    'sheet.not_a_category': {
        'zh': '类别“{value}”是{what}，不属于所列设施类别（如确属某类，请在 category_values 中指定）',
        'en': "category '{value}' is {what}, not one of the facility categories (map it in category_values "
              "if it is one)",
    },
    'sheet.what_school': {'zh': '学校', 'en': 'a school'},
    'sheet.what_hospital': {'zh': '医院', 'en': 'a hospital'},
    'sheet.what_restaurant': {'zh': '餐馆', 'en': 'a restaurant'},
    'sheet.what_kindergarten': {'zh': '幼儿园（仅开设托班的才提供托位）', 'en': 'a kindergarten (only one running a 托班 '
                                                                     'gives nursery places)'},
    'sheet.two_categories': {
        'zh': '类别“{value}”同时含有“{first}”和“{second}”两类的类别词',
        'en': "category '{value}' has words of both {first} and {second}",
    },
    'sheet.read_as': {'zh': '按“{category}”计入', 'en': 'read as {category}'},
    'sheet.dropped': {'zh': '未计入', 'en': 'dropped'},
    'template.sheet_form': {'zh': '登记表', 'en': 'registry'},
    'template.sheet_help': {'zh': '填表说明', 'en': 'how to fill in'},
    'template.col_column': {'zh': '列', 'en': 'column'},
    'template.col_meaning': {'zh': '填写说明', 'en': 'what to enter'},
    'template.col_required': {'zh': '必填', 'en': 'required'},
    'template.yes': {'zh': '是', 'en': 'yes'},
    'template.no': {'zh': '否', 'en': 'no'},
    'template.serial': {'zh': '序号，仅供打印，读取时忽略', 'en': 'serial number, for print only; ignored'},
    'template.name': {'zh': '设施名称（全称）', 'en': 'the facility\'s full name'},
    'template.category': {
        'zh': '设施类别，填下方所列类别词之一（如 社区养老驿站、长者食堂、托育园）',
        'en': 'the facility\'s category: one of the category words listed below (e.g. 社区养老驿站, 长者食堂, 托育园)',
    },
    'template.lon': {'zh': '经度，十进制度（如 117.2153）', 'en': 'longitude in decimal degrees (e.g. 117.2153)'},
    'template.lat': {'zh': '纬度，十进制度（如 39.0892）', 'en': 'latitude in decimal degrees (e.g. 39.0892)'},
    'template.address': {'zh': '地址', 'en': 'address'},
    'template.beds': {'zh': '床位数（张），养老设施填写', 'en': 'beds, for elder-care facilities'},
    'template.nursery_places': {'zh': '托位数（个），托育设施填写', 'en': 'nursery places, for nurseries'},
    'template.meals_per_day': {'zh': '日供餐能力（份/天），助餐设施填写', 'en': 'meals a day, for canteens'},
    'template.affordable': {'zh': '是否普惠：是 / 否', 'en': 'affordable (普惠): yes / no'},
    'template.ownership': {'zh': '性质（如 公办、公建民营、民办）', 'en': 'ownership (e.g. 公办, 公建民营, 民办)'},
    'template.floor_area_m2': {'zh': '建筑面积（平方米）', 'en': 'floor area, m²'},
    'template.registry_id': {'zh': '机构编号（如有）', 'en': 'the facility\'s registry number, if any'},
    'template.categories_row': {'zh': '类别词：{label}（{key}）', 'en': 'category words: {label} ({key})'},
    'template.coordinates': {'zh': '坐标系', 'en': 'coordinate system'},
    'template.coordinates_note': {
        'zh': '从高德、腾讯地图取得的坐标是 GCJ-02，从百度地图取得的是 BD-09，GPS 设备为 WGS-84：请在配置中写明 '
              'coord_system = "gcj02"、"bd09" 或 "wgs84"',
        'en': 'coordinates taken from AMap or Tencent maps are GCJ-02, from Baidu maps BD-09, from a GPS device '
              'WGS-84: say which in the config, coord_system = "gcj02", "bd09" or "wgs84"',
    },
    'template.example': {'zh': '示例行', 'en': 'example row'},
    'template.example_note': {
        'zh': '第 2 行是示例（序号为“示例”，名称以“示例”开头）：读取时跳过并在输入问题报告中列出；改写成真实设施或删除该行',
        'en': 'row 2 is an example (its name begins with "Example"): it is skipped when read, with a line in the '
              'input report; rewrite it as a real facility or delete it',
    },
    'template.example_serial': {'zh': '示例', 'en': 'example'},
    'template.example_name': {
        'zh': '示例：某某社区养老服务驿站（请改写或删除本行）',
        'en': 'Example: a community elder-care station (rewrite or delete this row)',
    },
    'template.example_address': {'zh': '某某路1号', 'en': '1 Example Road'},
    'template.example_ownership': {'zh': '公建民营', 'en': 'publicly built, privately run'},
    'template.wrote': {
        'zh': '已写出登记表模板 {path}（{n} 列，第 2 行为示例）。填好后在配置文件中加入：',
        'en': 'wrote the registry template {path} ({n} columns, row 2 an example). Once filled in, add to the '
              'config file:',
    },
    'template.exists': {'zh': '{path} 已存在；如要覆盖，请加 --force', 'en': '{path} exists; add --force to overwrite it'},
    # ---- datum check
    'datum.confirmed': {
        'zh': '{file}：坐标系核验通过，确为声明的 {declared}（按 {declared} 读，{hits}/{n} 个点落在其所属社区/街道或'
              ' OSM 建筑、小区内；同距离其他方向随机约 {chance}）',
        'en': '{file}: coordinate system confirmed as declared, {declared} (read as {declared}, {hits} of {n} points '
              'fall inside the community/street they name or on an OSM building or residential parcel; about '
              '{chance} at random bearings of the same distance)',
    },
    'datum.switch': {
        'zh': '{file}：坐标很可能是 {suggested}，而不是声明的 {declared}——按 {suggested} 读，{hits}/{n} 个点落在其所属'
              '社区/街道或 OSM 建筑、小区内，按 {declared} 读只有 {declared_hits}/{n}（同距离其他方向随机约 {chance}）。'
              '本次仍按 {declared} 使用；请核对坐标来源，确认后在配置中设 coord_system = "{suggested}"',
        'en': '{file}: the coordinates are probably {suggested}, not the declared {declared}: read as {suggested}, '
              '{hits} of {n} points fall inside the community/street they name or on an OSM building or residential '
              'parcel, read as {declared} only {declared_hits} of {n} (about {chance} at random bearings of the same '
              'distance). Used as declared this time; check where the coordinates come from and, if so, set '
              'coord_system = "{suggested}"',
    },
    'datum.cannot_tell': {
        'zh': '{file}：坐标系无法判断（{points} 个点可核验，但 wgs84/gcj02/bd09 之间证据不足以区分），按声明的 {declared}'
              ' 使用；请确认坐标来源（高德/腾讯为 gcj02，百度为 bd09）',
        'en': '{file}: cannot tell the coordinate system ({points} points could be checked, but the evidence does not '
              'separate wgs84/gcj02/bd09); used as declared ({declared}); confirm where the coordinates come from '
              '(AMap/Tencent give gcj02, Baidu bd09)',
    },
    'datum.too_few': {
        'zh': '{file}：坐标系无法判断：只有 {points} 个点可核验（需至少 {min_points} 个点填有所属社区/街道，或位于 OSM '
              '建筑、小区范围内），按声明的 {declared} 使用；请确认坐标来源（高德/腾讯为 gcj02，百度为 bd09）',
        'en': '{file}: cannot tell the coordinate system: only {points} points could be checked (at least '
              '{min_points} need a community/street column or OSM buildings and residential parcels around them); '
              'used as declared ({declared}); confirm where the coordinates come from (AMap/Tencent give gcj02, '
              'Baidu bd09)',
    },
    'datum.report_problem': {
        'zh': '坐标很可能是 {suggested}，而不是声明的 {declared}',
        'en': 'coordinates probably {suggested}, not the declared {declared}',
    },
    'datum.report_action': {
        'zh': '仍按 {declared} 使用；核对后设 coord_system = "{suggested}"',
        'en': 'used as {declared}; check, then set coord_system = "{suggested}"',
    },
    # ---- off-network facilities (issue 13: named with their distance)
    'facility.off_network': {
        'zh': '{category}设施“{name}”距最近步行道路 {metres:,.0f} 米（超过 {limit:g} 米），不服务任何居民',
        'en': '{category} facility "{name}" is {metres:,.0f} m from the nearest walkable street (beyond {limit:g} m): '
              'it reaches nobody',
    },
    'facility.off_network_action': {'zh': '列出但不计入步行时间', 'en': 'listed, left out of walk times'},
    'facility.off_network_console': {
        'zh': '{n} 处设施距步行路网过远，不服务任何居民（详见 input_report.csv）：',
        'en': '{n} facilities are too far from the walk network to reach anybody (see input_report.csv):',
    },
    'facility.off_network_more': {'zh': '……另有 {n} 处', 'en': '… and {n} more'},
    # ---- console and input report in the run language
    # input_report.csv: problem and action columns
    'input.empty_geometry': {'zh': '几何为空或缺失', 'en': 'empty or missing geometry'},
    'input.dropped': {'zh': '未计入', 'en': 'dropped'},
    'input.invalid_polygon': {'zh': '多边形无效（{reason}）', 'en': 'invalid polygon ({reason})'},
    'input.reason_self_intersection': {'zh': '自相交', 'en': 'Self-intersection'},
    'input.reason_ring_self_intersection': {'zh': '环自相交', 'en': 'Ring Self-intersection'},
    'input.reason_too_few_points': {'zh': '点数过少', 'en': 'Too few points'},
    'input.reason_nested_shells': {'zh': '外环嵌套', 'en': 'Nested shells'},
    'input.reason_interior_is_disconnected': {'zh': '内部不连通', 'en': 'Interior is disconnected'},
    'input.reason_hole_lies_outside_shell': {'zh': '内环在外环之外', 'en': 'Hole lies outside shell'},
    'input.reason_nested_holes': {'zh': '内环嵌套', 'en': 'Nested holes'},
    'input.reason_duplicate_rings': {'zh': '重复的环', 'en': 'Duplicate Rings'},
    'input.reason_invalid_coordinate': {'zh': '坐标无效', 'en': 'Invalid Coordinate'},
    'input.reason_ring_is_not_closed': {'zh': '环未闭合', 'en': 'Ring is not closed'},
    'input.repaired': {'zh': '已自动修复（make_valid）', 'en': 'repaired with make_valid'},
    'input.no_area': {'zh': '修复后面积为零', 'en': 'no area after repair'},
    'input.no_street_inside': {'zh': '社区“{name}”内没有可步行道路', 'en': "community '{name}' has no walkable street inside"},
    'input.spread_over_area': {
        'zh': '按其他社区的中位密度将居民分布到其范围内（{n} 个 H3 网格），并标记为 population_fallback（估算）',
        'en': 'residents spread over its area ({n} H3 cells) at the median density of the other communities; '
              'marked population_fallback',
    },
    'input.not_residents': {'zh': '不是居民人数：“{value}”', 'en': "not a number of residents: '{value}'"},
    'input.row_dropped': {'zh': '该行未使用', 'en': 'row dropped'},
    'input.age_blank': {'zh': '该年龄组留空', 'en': 'age group left blank'},
    'input.no_unit_match': {'zh': '没有与“{value}”对应的社区或街道', 'en': "no community or street matches '{value}'"},
    'input.row_not_used': {'zh': '该行未使用', 'en': 'row not used'},
    'input.level_community': {'zh': '社区', 'en': 'community'},
    'input.level_street': {'zh': '街道', 'en': 'street'},
    'input.no_row_for': {'zh': '人口表中没有{level}“{name}”的行', 'en': "no row for {level} '{name}'"},
    'input.scaled_overall': {
        'zh': '其建筑估算按全表总体系数 {factor:.3g} 缩放',
        'en': "its building estimate scaled by the table's overall factor {factor:.3g}",
    },
    'input.no_origin': {'zh': '{level}“{name}”内没有居住点', 'en': "{level} '{name}' has no residential origin inside"},
    'input.not_placed': {'zh': '其居民未能落位', 'en': 'its residents are not placed'},
    'input.scaled_to': {'zh': '{level}人口表（{table}）', 'en': 'population table per {level} ({table})'},
    'input.outside_area': {
        'zh': '位于研究区外 {km:.1f} 公里（超出 {reach:.0f} 米步行范围）',
        'en': '{km:.1f} km outside the study area (beyond the {reach:.0f} m walk)',
    },
    'input.no_road_class': {'zh': '没有道路等级', 'en': 'no road class'},
    'input.left_out_network': {'zh': '不计入步行路网', 'en': 'left out of the walk network'},
    'input.column_not_in_file': {
        'zh': '配置中映射为 {field} 的列不在文件中', 'en': 'column mapped to {field} in the config is not in the file',
    },
    'input.field_left_blank': {'zh': '该字段留空', 'en': 'field left blank'},
    'input.no_name_column': {'zh': '没有名称列（名称/name）', 'en': 'no name column (名称/name)'},
    'input.named_by_row': {'zh': '按行号命名', 'en': 'rows named by their row number'},
    'input.no_category_column': {
        'zh': '没有类别列（类别/category），配置中也未指定类别', 'en': 'no category column (类别/category) and no category in the config',
    },
    'input.category_from_name': {'zh': '按名称中的关键词判断类别', 'en': "category read from the name's keywords"},
    'input.missing_name': {'zh': '缺少名称', 'en': 'missing name'},
    'input.kept_named_by_row': {'zh': '保留，按行号命名', 'en': 'kept, named by its row'},
    'input.row_name': {'zh': '（{file} 第 {row} 行）', 'en': '({file} row {row})'},
    'input.unknown_category': {
        'zh': '无法识别的类别“{value}”（可在 category_values 中映射）', 'en': "unknown category '{value}' (map it in category_values)",
    },
    'input.swapped': {'zh': '经纬度颠倒（{lon}, {lat}）', 'en': 'latitude and longitude swapped ({lon}, {lat})'},
    'input.used_swapped': {'zh': '已交换后使用', 'en': 'used swapped back'},
    'input.outside_china': {'zh': '点（{lon}, {lat}）在中国境外', 'en': 'point ({lon}, {lat}) is outside China'},
    'input.not_a_number': {'zh': '不是数字：“{value}”', 'en': "not a number: '{value}'"},
    'input.left_blank': {'zh': '留空', 'en': 'left blank'},
    'input.not_yes_no': {'zh': '不是“是/否”：“{value}”', 'en': "not yes/no: '{value}'"},
    'input.duplicate_of': {'zh': '与第 {row} 行（“{name}”）重复', 'en': "duplicate of row {row} ('{name}')"},
    'input.census_total': {'zh': '{name} 2020 年人口普查总数（{total:.0f}）', 'en': 'census 2020 total of {name} ({total:.0f})'},
    'input.population_total': {'zh': 'population_total 设定值 {total:.0f}', 'en': 'population_total {total:.0f}'},
    'input.census_shares': {'zh': '{name} 2020 年人口普查年龄构成', 'en': 'census 2020 shares of {name}'},
    'input.population_table': {'zh': '人口表', 'en': 'population table'},
    'input.missing_point': {'zh': '缺少点位', 'en': 'missing point'},
    'input.missing_coordinate': {'zh': '缺少坐标值', 'en': 'missing coordinate'},
    'input.missing_coordinates': {'zh': '缺少坐标', 'en': 'missing coordinates'},
    'input.address_only': {'zh': '没有坐标，只有地址“{address}”', 'en': 'no coordinates, only the address "{address}"'},
    'input.needs_geocoder': {
        'zh': '未计入：请补充坐标，或在研究区文件中配置 [facilities.geocoder]',
        'en': 'dropped: add coordinates, or a [facilities.geocoder] in the study-area file',
    },
    'input.geocoded_coarse': {
        'zh': '{service} 地理编码仅精确到“{level}”（要求至少 {min_precision}）',
        'en': '{service} geocoded it only to "{level}" (at least {min_precision} required)',
    },
    'input.geocode_not_found': {'zh': '{service} 未找到地址“{address}”的位置', 'en': '{service} found no position for "{address}"'},
    'input.geocoded_outside_area': {
        'zh': '地理编码位置（{lon:.6f}, {lat:.6f}）在研究范围之外',
        'en': 'geocoded position ({lon:.6f}, {lat:.6f}) is outside the study area',
    },
    'input.see_geocode_review': {
        'zh': '未计入，已列入 geocode_review.csv：请补充坐标或更详细的地址',
        'en': 'not used; listed in geocode_review.csv: add coordinates or a fuller address',
    },
    'input.expected_lnglat': {'zh': '应为“经度,纬度”，实为“{value}”', 'en': "expected 'lng,lat', got '{value}'"},
    # the console
    'console.error': {'zh': 'servicecircle：错误：{error}', 'en': 'servicecircle: error: {error}'},
    'console.interrupted': {'zh': 'servicecircle：已中断', 'en': 'servicecircle: interrupted'},
    'console.headline': {
        'zh': '{area}：估算居民 {residents:,.0f} 人，分布于 {cells:,} 个有人口的 H3 网格（分辨率 {res}），'
              '步行速度 {speed:g} 米/秒，覆盖 = 步行 {minutes:g} 分钟以内',
        'en': '{area}: {residents:,.0f} estimated residents in {cells:,} populated H3 cells (res {res}), '
              'walking {speed:g} m/s, covered = within {minutes:g} min',
    },
    'console.na': {'zh': '无', 'en': 'n/a'},
    'console.webmap': {
        'zh': '{service} 兴趣点（{date} 获取，{requests} 次请求）：',
        'en': '{service} POIs (fetched {date}, {requests} requests):',
    },
    'console.webmap_category': {
        'zh': '  {category}：获取 {fetched}，采用 {kept}，排除 {excluded}（名称含排除词{words}），'
              '{not_matched} 个名称不符，与登记表合并 {merged}',
        'en': '  {category}: fetched {fetched}, kept {kept}, excluded {excluded} (name has an exclude keyword{words}), '
              '{not_matched} not named like one, merged with a registry {merged}',
    },
    'console.category': {
        'zh': '{key:<14} {n:>4} 个设施  覆盖 {pct:>6}  — {note}',
        'en': '{key:<14} {n:>4} facilities  covered {pct:>6}  — {note}',
    },
    'console.aged': {'zh': '{group} 岁：{share:.1%}', 'en': 'aged {group}: {share:.1%}'},
    'console.fca': {
        'zh': '2SFCA（{decay}）：可达范围内每千人 {value:.2f} {unit}', 'en': '2SFCA ({decay}): {value:.2f} {unit} within reach',
    },
    'console.blind': {
        'zh': '{n} 处盲区，共 {residents:,.0f} 名居民；最大一处：{top:,.0f} 名居民，{cells} 个网格，{walk}',
        'en': '{n} blind spot(s), {residents:,.0f} residents; largest: {top:,.0f} residents in {cells} cells, {walk}',
    },
    'console.no_facility': {'zh': '无可达设施', 'en': 'no facility reachable'},
    'console.walk_from': {'zh': '距最近设施 {walk:.1f} 分钟', 'en': '{walk:.1f} min from the nearest'},
    'console.complete': {
        'zh': '完整服务圈（{categories}）：{share} 的居民', 'en': 'complete circle ({categories}): {share} of residents',
    },
    'console.adjacency': {
        'zh': '医养结合：{checked} 个{care}设施中 {adjacent} 个在{health}步行 {walk:g} 分钟以内，{not_adjacent} 个不在',
        'en': '医养结合: {adjacent} of {checked} {care} facilities within {walk:g} min walk of a {health}; '
              '{not_adjacent} not',
    },
    'console.adjacency_note': {'zh': '医养结合：{note}', 'en': '医养结合: {note}'},
    'console.goals': {
        'zh': '指标：全区 {rows} 项中 {met} 项达标，{failed} 项未达标，{unknown} 项无法评估（约束性未达标 {binding} 项）；'
              'scorecard.xlsx 含全部街道和社区',
        'en': 'goals: {met} of {rows} district rows met, {failed} not met, {unknown} not assessable '
              '({binding} binding failures); scorecard.xlsx has every street and community',
    },
    'console.registry': {
        'zh': '登记表 {file}：使用 {n} 个设施（{coord}）', 'en': 'registry {file}: {n} facilities used ({coord})',
    },
    'console.warning': {'zh': '警告：{text}', 'en': 'WARNING: {text}'},
    'console.problems': {
        'zh': '{n} 个输入问题，每个一行，见 {where}：', 'en': '{n} input problem(s), one line each in {where}:',
    },
    'console.cached': {
        'zh': '分析结果取自缓存 {dir}（输入和设置相同；加 --recompute 可重新计算）',
        'en': 'analysis reused from the cache in {dir} (same inputs and settings; --recompute computes it again)',
    },
    'console.wrote': {'zh': '已写出 {path}', 'en': 'wrote {path}'},
    'console.kept': {'zh': '保留 {path}（已是最新）', 'en': 'kept {path} (up to date)'},
    'console.siting': {
        'zh': '选址 {category}（需求：{weight}，覆盖 = 步行 {limit:.0f} 米以内）：新增 {n} 处，覆盖比例 {before:.1%} → '
              '{after:.1%}（候选点 {candidates:,} 个，贪心算法 {ms:.0f} 毫秒）',
        'en': 'siting {category} (demand: {weight}, covered = within {limit:.0f} m walk): {n} new sites, '
              'covered share {before:.1%} → {after:.1%} ({candidates:,} candidates, greedy {ms:.0f} ms)',
    },
    'console.exact': {
        'zh': '精确最优解（MILP，HiGHS）：贪心结果达到其 {share:.1%}（{s:.1f} 秒）',
        'en': 'exact optimum (MILP, HiGHS): greedy reaches {share:.1%} of it ({s:.1f} s)',
    },
    'console.capacity': {
        'zh': '容量规划 {category}（{capacity}，标准每千{group} {per_1000:g}）：现有 {now:,.0f}，分布于 {n} 个设施；'
              '全区缺口 {shortfall:,.0f}；可达范围内未满足需求 {reached:,.0f}，所有设施均不可达的需求 {unreached:,.0f}',
        'en': 'capacity plan {category} ({capacity}, standard {per_1000:g} per 1,000 {group}): {now:,.0f} now in '
              '{n} facilities; district shortfall {shortfall:,.0f}; unmet need within reach {reached:,.0f}, '
              'beyond every facility {unreached:,.0f}',
    },
    'console.demand_all': {'zh': '居民', 'en': 'residents'},
    'console.demand_60plus': {'zh': '60 岁及以上居民', 'en': 'residents aged 60+'},
    'console.demand_0_3': {'zh': '0–3 岁儿童', 'en': 'children aged 0–3'},
    'console.demand_0_4': {'zh': '0–4 岁儿童', 'en': 'children aged 0–4'},
    'console.demand_no_ages': {'zh': '（未载入年龄数据：按全部居民）', 'en': ' (all ages: no age data loaded)'},
    # summary.json notes shown on the console and the pages
    'notes.source_osm': {'zh': 'OSM', 'en': 'OSM'},
    'notes.source_registry': {'zh': '登记表', 'en': 'a registry'},
    'notes.flag_note_nursery': {
        'zh': '幼儿园：仅开设托班的才计为托育', 'en': 'kindergarten: counts as nursery only where it runs a 托班',
    },
    'areas.all': {'zh': '已绘制全部 {n} 个设施各自的服务范围', 'en': 'per-facility service areas drawn for all {n} facilities'},
    'areas.none': {
        'zh': '未绘制单个设施的服务范围（[output] facility_areas = "none"）',
        'en': 'per-facility service areas not drawn ([output] facility_areas = "none")',
    },
    'areas.too_many': {
        'zh': '未绘制单个设施的服务范围：设施 {n:,} 个，超过 {limit} 个（设 [output] facility_areas = "all" 可绘制）',
        'en': 'per-facility service areas not drawn: {n:,} facilities > {limit} '
              '(set [output] facility_areas = "all" to draw them)',
    },
    'areas.streets': {
        'zh': '合并服务范围：各时间阈值内步行可达道路两侧 {b:g} 米以内的用地',
        'en': 'merged service areas: land within {b:g} m of the streets walked within each threshold',
    },
    'areas.cells': {
        'zh': '合并服务范围：步行时间在各阈值以内的 H3 网格（分辨率 {r}）',
        'en': 'merged service areas: the H3 cells (resolution {r}) whose walk time is within each threshold',
    },
    'summary.fca_none': {
        'zh': '没有已知{capacity}的{label}设施——2SFCA 需要含容量的登记表',
        'en': 'no {label} facility with a known {capacity} — 2SFCA needs a registry with capacities',
    },
    'summary.fca_none_count': {'zh': '（{n} 个设施无此数据）', 'en': ' ({n} facilities have none)'},
    'summary.fca_without': {
        'zh': '{n} 个{label}设施没有{capacity}，不计入 2SFCA', 'en': '{n} {label} facilities have no {capacity} and are left out of 2SFCA',
    },
    'summary.fca_off_network': {
        'zh': '{n} 个{label}设施不在步行路网上，不分摊{capacity}',
        'en': '{n} {label} facilities are off the walk network and share no {capacity}',
    },
    'summary.join': {'zh': '；', 'en': '; '},
    'summary.no_care': {'zh': '没有需要核查的{label}设施', 'en': 'no {label} facility to check'},
    # ---- scorecard in the run language
    'level.compound': {'zh': '小区（OSM）', 'en': 'OSM residential compound'},
    'goal.not_assessed': {'zh': '未评估', 'en': 'not assessed'},
    'goal.not_assessed_why': {'zh': '未评估：{why}', 'en': 'not assessed: {why}'},
    'goal.no_community_file': {
        'zh': '无社区边界文件，OSM小区不能代替社区',
        'en': 'no community boundary file: OSM residential compounds cannot stand in for communities',
    },
    'goal.no_facility': {
        'zh': '数据中没有{label}设施（可导入登记表）',
        'en': 'the data hold no {label} facility (load a registry)',
    },
    'goal.no_age_data': {
        'zh': '人口数据无年龄分组，无法统计{who}（按全体居民计的参考值：{text}）',
        'en': 'the population has no age groups, so {who} cannot be counted (for all residents: {text})',
    },
    'goal.no_area': {'zh': '本单位{label}设施均无已知面积', 'en': 'no {label} facility here has a known floor area'},
    'goal.no_capacity': {
        'zh': '本单位{label}设施均无已知{capacity}数据，请导入含容量的登记表',
        'en': 'no {label} facility here has a known {capacity} — load a registry with capacities',
    },
    'goal.cat_elder_care': {'zh': '养老服务', 'en': 'elder care'},
    'goal.cat_canteen': {'zh': '老年助餐', 'en': 'meals for older people'},
    'goal.cat_nursery': {'zh': '托育服务', 'en': 'childcare'},
    'goal.who_all': {'zh': '居民', 'en': 'residents'},
    'goal.who_60plus': {'zh': '60岁及以上老年人', 'en': 'residents aged 60+'},
    'goal.who_0_3': {'zh': '0–3岁婴幼儿', 'en': 'residents aged 0–3'},
    'goal.who_0_4': {'zh': '0–4岁婴幼儿', 'en': 'residents aged 0–4'},
    'goal.walk_min': {'zh': '{minutes:g}分钟', 'en': '{minutes:g} min walk'},
    'goal.walk_m': {'zh': '{metres:g}米', 'en': '{metres:g} m walked'},
    'goal.and': {'zh': '、', 'en': ' + '},
    'goal.reach_meaning': {'zh': '可达：{who}步行{walk}内可达{label}', 'en': 'reach: {who} within {walk} of {label}'},
    'goal.outside': {
        'zh': '{n:,.0f}名{who}在{label}步行{walk}范围外',
        'en': '{n:,.0f} {who} outside the {walk} of {label}',
    },
    'goal.more_reached': {'zh': '；还需覆盖{n:,.0f}人方达{target}', 'en': '; {n:,.0f} more must be reached for {target}'},
    'goal.nobody': {'zh': '本单位无{who}', 'en': 'no {who} here'},
    'goal.contains_meaning': {'zh': '内设：{level}内有{label}设施', 'en': 'contains: a {label} facility inside the {level}'},
    'goal.share_meaning': {
        'zh': '可达：≥{share}的{who}步行{walk}内可达{label}',
        'en': 'reach: ≥ {share} of {who} within {walk} of {label}',
    },
    'goal.has_one': {'zh': '有', 'en': 'has one'},
    'goal.none_inside': {'zh': '内无{label}设施', 'en': 'no {label} facility inside'},
    'goal.share_within': {'zh': '{who}步行{walk}内可达比例{share}', 'en': '{share} of {who} within {walk}'},
    'goal.below': {'zh': '（低于{share}）', 'en': ' (< {share})'},
    'goal.yes_1': {'zh': '是 = 1', 'en': 'yes = 1'},
    'goal.noun_community': {'zh': '社区', 'en': 'communities'},
    'goal.noun_compound': {'zh': 'OSM小区', 'en': 'OSM residential compounds'},
    'goal.noun_street': {'zh': '街道', 'en': 'streets'},
    'goal.members_met': {'zh': '{k}个{noun}中{m}个达到（{share}）', 'en': '{m} of {k} {noun} ({share})'},
    'goal.more_inside': {'zh': '；还需{d}个{noun}内设{label}', 'en': '; {d} more {noun} need {label} inside'},
    'goal.more_within': {
        'zh': '；还需{d}个{noun}步行{walk}内可达{label}',
        'en': '; {d} more {noun} need {label} within {walk}',
    },
    'goal.area_unknown_meaning': {'zh': '人均{label}建筑面积', 'en': 'floor area of {label} per resident'},
    'goal.area_meaning': {'zh': '{who}人均{label}建筑面积', 'en': 'floor area of {label} per {who}'},
    'goal.area_text': {'zh': '{total:,.0f} m²，{who}{pop:,.0f}人', 'en': '{total:,.0f} m² for {pop:,.0f} {who}'},
    'goal.area_short': {'zh': '；缺{n:,.0f} m²', 'en': '; {n:,.0f} m² short'},
    'goal.area_unknown': {
        'zh': '（{n}处设施面积未知，按0计）',
        'en': ' ({n} facilities of unknown area counted as 0)',
    },
    'goal.per1000_meaning': {'zh': '每千名{who}{capacity}', 'en': '{capacity} per 1,000 {who}'},
    'goal.capacity_meaning': {'zh': '{label}{capacity}', 'en': '{capacity} of {label}'},
    'goal.per1000_text': {
        'zh': '{total:,.0f}{capacity}，{who}{pop:,.0f}人',
        'en': '{total:,.0f} {capacity} for {pop:,.0f} {who}',
    },
    'goal.capacity_short': {'zh': '；{capacity}缺口{n:,.0f}', 'en': '; {n:,.0f} {capacity} short'},
    'goal.capacity_unknown': {
        'zh': '（{n}处设施无{capacity}数据，按0计）',
        'en': ' ({n} facilities without a known {capacity} counted as 0)',
    },
    'goal.share_of_meaning': {'zh': '{capacity}占{of}比例', 'en': '{capacity} / {of}'},
    'goal.share_of_text': {'zh': '{of}{total_of:,.0f}个中{capacity}{total:,.0f}个', 'en': '{total:,.0f} {capacity} of {total_of:,.0f} {of}'},
    'goal.share_of_short': {'zh': '；还需{n:,.0f}个为{capacity}', 'en': '; {n:,.0f} more must be {capacity}'},
    'goal.cap_beds': {'zh': '床位', 'en': 'beds'},
    'goal.cap_nursery_places': {'zh': '托位', 'en': 'nursery places'},
    'goal.cap_nursery_places_affordable': {'zh': '普惠托位', 'en': 'affordable nursery places'},
    'goal.cap_meals_per_day': {'zh': '日供餐数', 'en': 'meals per day'},
    'goal.unit_share': {'zh': '比例', 'en': 'share'},
    'goal.unit_share_communities': {'zh': '社区比例', 'en': 'share of communities'},
    'goal.unit_share_streets': {'zh': '街道比例', 'en': 'share of streets'},
    'goal.unit_places_per_1000': {'zh': '托位/千人', 'en': 'places per 1,000 residents'},
    'goal.unit_share_places': {'zh': '托位比例', 'en': 'share of places'},
    'goal.unit_beds_per_1000_60plus': {'zh': '床位/千名老年人', 'en': 'beds per 1,000 residents aged 60+'},
    'goal.unit_m2_per_resident': {'zh': 'm²/人', 'en': 'm² per resident'},
    'goal.passed_yes': {'zh': '达标', 'en': 'met'},
    'goal.passed_no': {'zh': '未达标', 'en': 'not met'},
    'script.not_assessed': {'zh': '未评估', 'en': 'not assessed'},
    'adjacency.not_checked': {'zh': '未检查', 'en': 'not checked'},
    'adjacency.no_health_category': {
        'zh': '未配置{key}类别（在研究区文件中加入卫生服务设施类别即可检查医养结合）',
        'en': 'no {key} category configured (add one to check 医养结合 adjacency)',
    },
    'adjacency.no_health_facility': {
        'zh': '步行路网上没有{label}设施',
        'en': 'no {label} facility on the walk network',
    },
    'adjacency.off_network': {'zh': '设施不在步行路网上，未测步行距离', 'en': 'off the walk network, no walk measured'},
    'adjacency.unreachable': {'zh': '步行无法到达任何卫生服务设施', 'en': 'no health centre reachable on foot'},
    'popup.care_unchecked': {'zh': '医养结合：未检查（{note}）', 'en': '医养结合: not checked ({note})'},
    # ---- 2SFCA unit in the run language
    'summary.fca_unit': {'zh': '{capacity}/千{who}', 'en': '{capacity} per 1,000 {who}'},
    # ---- the printable report (report_print.html)
    'print.title': {'zh': '一刻钟服务圈评估汇报', 'en': '15-minute service circle: printable report'},
    'print.district_goals': {'zh': '全区目标与现状', 'en': 'District goals versus actual'},
    'print.map': {'zh': '各类设施步行15分钟覆盖情况（按社区）', 'en': 'Covered share per community, by category'},
    'print.legend_share': {'zh': '社区居民步行15分钟内可达该类设施的比例',
                           'en': 'share of a community’s residents within the walk of the category'},
    'print.legend_points': {'zh': '（圆点：设施）', 'en': ' (dots: facilities)'},
    'print.site': {'zh': '建议选址', 'en': 'proposed site'},
    'print.summary': {
        'zh': '以下每个街道一页：街道指标、地图、未达标社区。共 {streets} 个街道，{failing} 个社区有未达标指标；'
              '建议选址 {sites} 处{category}。',
        'en': 'One page per street follows: its goals, map and failing communities. {streets} streets; {failing} '
              'communities fail a goal; {sites} proposed sites {category}.',
    },
    'print.street': {'zh': '{name}', 'en': '{name}'},
    'print.street_line': {'zh': '居民 {residents} 人，社区 {communities} 个，建议选址 {sites} 处',
                          'en': '{residents} residents, {communities} communities, {sites} proposed sites'},
    'print.no_street_goals': {'zh': '本街道没有评估指标。', 'en': 'No goal is scored for this street.'},
    'print.failing': {'zh': '未达标社区', 'en': 'Communities failing a goal'},
    'print.none_failing': {'zh': '没有社区有未达标指标（未评估的指标不计为未达标）。',
                           'en': 'No community fails a goal (goals not assessed are not failures).'},
    'print.goals_failed': {'zh': '未达标指标', 'en': 'goals not met'},
    # ---- servicecircle compare RUN_A RUN_B (compare.html, compare.xlsx)
    'compare.title': {'zh': '前后对比', 'en': 'Before and after'},
    'compare.runs': {'zh': '对比前：{a}；对比后：{b}', 'en': 'before: {a}; after: {b}'},
    'compare.summary': {'zh': '总览', 'en': 'Overview'},
    'compare.counts': {
        'zh': '新达标指标 {met_new} 项，不再达标 {lost} 项；消除盲区 {closed} 处、缩小 {shrunk} 处，新出现盲区 {new} 处；'
              '仅见于对比前的社区 {communities_a_only} 个，仅见于对比后的 {communities_b_only} 个。',
        'en': '{met_new} goals newly met, {lost} no longer met; {closed} blind spots closed, {shrunk} shrunk, {new} new; '
              '{communities_a_only} communities only before, {communities_b_only} only after.',
    },
    'compare.differs': {
        'zh': '注意：两次运行的设置或研究区不同，数字并非完全可比：',
        'en': 'Note: the two runs differ in settings or study area, so their figures are not like for like:',
    },
    'compare.goals': {'zh': '指标变化（新达标与不再达标）', 'en': 'Goals newly met and no longer met'},
    'compare.no_goal_change': {'zh': '没有指标的达标情况发生变化。', 'en': 'No goal changed its verdict.'},
    'compare.streets': {'zh': '各街道覆盖率变化', 'en': 'Covered shares per street'},
    'compare.communities_title': {'zh': '各社区覆盖率变化', 'en': 'Covered shares per community'},
    'compare.blind': {'zh': '盲区变化（消除、缩小、新出现、仍存在）', 'en': 'Blind spots closed, shrunk, new and remaining'},
    'compare.no_blind': {'zh': '两次运行都没有盲区（或缺少 GeoPackage 的盲区图层）。',
                         'en': 'Neither run has blind spots (or a GeoPackage blind-spot layer is missing).'},
    'compare.left_out': {'zh': '页面只列出前 {n} 行以外的部分未显示；完整内容见 compare.xlsx。',
                         'en': '{n} more rows are not shown here; compare.xlsx holds every row.'},
    'compare.files': {'zh': '文件', 'en': 'Files'},
    'compare.files_text': {
        'zh': 'compare.xlsx：总览、街道、社区、指标变化、盲区各一张表（不再达标与新盲区标红）。',
        'en': 'compare.xlsx: overview, streets, communities, goal changes and blind spots, a sheet each '
              '(goals no longer met and new blind spots filled red).',
    },
    'compare.sheet_overview': {'zh': '总览', 'en': 'overview'},
    'compare.sheet_streets': {'zh': '街道', 'en': 'streets'},
    'compare.sheet_communities': {'zh': '社区', 'en': 'communities'},
    'compare.sheet_goals': {'zh': '指标变化', 'en': 'goal changes'},
    'compare.sheet_blind': {'zh': '盲区变化', 'en': 'blind spots'},
    'compare.name': {'zh': '名称', 'en': 'name'},
    'compare.code': {'zh': '代码', 'en': 'code'},
    'compare.street': {'zh': '所属街道', 'en': 'street'},
    'compare.present': {'zh': '仅见于', 'en': 'only in'},
    'compare.only_a': {'zh': '对比前', 'en': 'before'},
    'compare.only_b': {'zh': '对比后', 'en': 'after'},
    'compare.residents_a': {'zh': '居民·前', 'en': 'residents before'},
    'compare.residents_b': {'zh': '居民·后', 'en': 'residents after'},
    'compare.share_a': {'zh': '{name}覆盖率·前（%）', 'en': '{name} covered % before'},
    'compare.share_b': {'zh': '{name}覆盖率·后（%）', 'en': '{name} covered % after'},
    'compare.share_change': {'zh': '{name}覆盖率变化（±百分点）', 'en': '{name} change (± points)'},
    'compare.uncovered_change': {'zh': '{name}未覆盖居民变化（±人）', 'en': '{name} uncovered residents (± change)'},
    'compare.group_60plus': {'zh': '60岁及以上', 'en': 'aged 60+'},
    'compare.group_0_4': {'zh': '0–4岁', 'en': 'aged 0–4'},
    'compare.group_0_3': {'zh': '0–3岁', 'en': 'aged 0–3'},
    'compare.level': {'zh': '层级', 'en': 'level'},
    'compare.goal': {'zh': '指标', 'en': 'goal'},
    'compare.meaning': {'zh': '口径', 'en': 'meaning'},
    'compare.value_a': {'zh': '现状值·前', 'en': 'value before'},
    'compare.value_b': {'zh': '现状值·后', 'en': 'value after'},
    'compare.passed_a': {'zh': '是否达标·前', 'en': 'met before'},
    'compare.passed_b': {'zh': '是否达标·后', 'en': 'met after'},
    'compare.change': {'zh': '变化', 'en': 'change'},
    'compare.met_new': {'zh': '新达标', 'en': 'newly met'},
    'compare.lost': {'zh': '不再达标', 'en': 'no longer met'},
    'compare.same': {'zh': '无变化', 'en': 'unchanged'},
    'compare.category': {'zh': '类别', 'en': 'category'},
    'compare.status': {'zh': '状态', 'en': 'status'},
    'compare.run': {'zh': '所在运行', 'en': 'run'},
    'compare.blind_id': {'zh': '盲区编号', 'en': 'blind spot'},
    'compare.residents': {'zh': '居民', 'en': 'residents'},
    'compare.demand_residents': {'zh': '服务对象人数', 'en': 'residents served by the category'},
    'compare.communities': {'zh': '涉及社区', 'en': 'communities'},
    'compare.closed': {'zh': '已消除', 'en': 'closed'},
    'compare.new': {'zh': '新出现', 'en': 'new'},
    'compare.remaining': {'zh': '仍存在', 'en': 'remaining'},
    'compare.shrunk': {'zh': '已缩小', 'en': 'shrunk'},
    'compare.unknown': {'zh': '无法判断（对比后缺少该类别的网格覆盖）', 'en': 'cannot tell (the later run has no cells for it)'},
    'compare.still_outside': {'zh': '对比后仍在圈外的居民', 'en': 'residents still outside after'},
    'compare.facilities_a': {'zh': '设施数·前', 'en': 'facilities before'},
    'compare.facilities_b': {'zh': '设施数·后', 'en': 'facilities after'},
    'compare.blind_a': {'zh': '盲区数·前', 'en': 'blind spots before'},
    'compare.blind_b': {'zh': '盲区数·后', 'en': 'blind spots after'},
    'compare.wrote': {'zh': '已写出 {path}', 'en': 'wrote {path}'},
    # ---- the batch (servicecircle batch): its console lines and overview page (index.html)
    # ---- errors of the study-area configuration (servicecircle.config): 'config key …: problem'
    'error.config_key': {'zh': "配置项 '{name}'：{problem}", 'en': "config key '{name}': {problem}"},
    'error.config_not_found': {'zh': '配置文件不存在：{path}', 'en': 'config file not found: {path}'},
    'error.not_toml': {'zh': '{path}：不是有效的 TOML 文件：{problem}', 'en': '{path}: not valid TOML: {problem}'},
    'error.expected_table': {'zh': '应为表，例如 [{table}]', 'en': 'expected a table, e.g. [{table}]'},
    'error.expected_a_table': {'zh': '应为表', 'en': 'expected a table'},
    'error.unknown_key': {'zh': '未知的配置项（允许：{allowed}）', 'en': 'unknown key (allowed: {allowed})'},
    'error.unknown_section': {'zh': '未知的配置节（允许：{allowed}）', 'en': 'unknown section (allowed: {allowed})'},
    'error.either': {'zh': '{first} 或 {last}', 'en': '{first} or {last}'},
    'error.expected_type': {'zh': '应为 {types} 类型，实为 {type} {value}', 'en': 'expected {types}, got {type} {value}'},
    'error.expected_choice': {'zh': '应为 {choices} 之一，实为 {value}', 'en': 'expected {choices}, got {value}'},
    'error.expected_named_choice': {'zh': '{what}应为 {choices} 之一，实为 {value}',
                                    'en': '{what} expected {choices}, got {value}'},
    'error.what_speed_profile': {'zh': '步行速度档位', 'en': 'speed profile'},
    'error.expected_one_of': {'zh': '应为 {choices} 之一，实为 {value}', 'en': 'expected one of {choices}, got {value}'},
    'error.missing_one_of': {'zh': '缺失：应为 {choices} 之一', 'en': 'missing: one of {choices}'},
    'error.must_be_positive': {'zh': '应大于 0，实为 {value}', 'en': 'must be > 0, got {value}'},
    'error.must_be_nonnegative': {'zh': '应大于或等于 0，实为 {value}', 'en': 'must be ≥ 0, got {value}'},
    'error.must_be_share': {'zh': '应在 (0, 1] 范围内，实为 {value}', 'en': 'must be in (0, 1], got {value}'},
    'error.must_be_between': {'zh': '应在 {low} 至 {high} 之间，实为 {value}', 'en': 'must be between {low} and {high}, got {value}'},
    'error.not_walking_speed': {'zh': '{value} m/s 不是步行速度（应在 {low}–{high} 之间）',
                                'en': '{value} m/s is not a walking speed (expected {low}–{high})'},
    'error.unknown_coord_system': {'zh': '未知的坐标系 {value}（可选：{choices}）',
                                   'en': 'unknown coordinate system {value} (choose {choices})'},
    'error.expected_strings': {'zh': '应为非空字符串的列表', 'en': 'expected a list of non-empty strings'},
    'error.expected_str_map': {'zh': '应为字符串组成的表，例如 { name = "机构名称" }',
                               'en': 'expected a table of strings, e.g. { name = "机构名称" }'},
    'error.expected_tag_rules': {'zh': '应为非空表的列表，例如 {amenity = "childcare"}',
                                 'en': 'expected a list of non-empty tables like {amenity = "childcare"}'},
    'error.expected_tag_value': {'zh': '应为字符串、字符串列表或 true', 'en': 'expected a string, a list of strings, or true'},
    'error.expected_bbox': {'zh': '应为以度为单位的 [west, south, east, north]',
                            'en': 'expected [west, south, east, north] in degrees'},
    'error.impossible_bbox': {'zh': '范围 {box} 无效：应满足 west < east 且 south < north（单位：度）',
                              'en': 'impossible box {box}: need west < east and south < north in degrees'},
    'error.expected_minutes': {'zh': '应为 (0, 120] 范围内的分钟数列表，实为 {value}',
                               'en': 'expected a list of minutes in (0, 120], got {value}'},
    'error.thresholds_distinct': {'zh': '各阈值不得重复', 'en': 'thresholds must be distinct'},
    'error.thresholds_increasing': {'zh': '阈值应从小到大排列，例如 {sorted}；实为 {value}',
                                    'en': 'thresholds must be in increasing order, e.g. {sorted}; got {value}'},
    'error.expected_weights': {'zh': '应为 (0, 1] 范围内的权重，每个阈值一个，且不得递增；实为 {value}',
                               'en': 'expected weights in (0, 1], one per threshold, not increasing; got {value}'},
    'error.expected_step_weights': {
        'zh': '应为 {count} 个 (0, 1] 范围内的权重，与阈值 {thresholds} 一一对应，且不得递增；实为 {value}',
        'en': 'expected {count} weights in (0, 1], one per threshold {thresholds}, not increasing; got {value}'},
    'error.expected_facility_areas': {'zh': '应为 "all"、"none" 或设施个数，实为 {value}',
                                      'en': 'expected "all", "none" or a number of facilities, got {value}'},
    'error.missing_area_name': {'zh': '缺失：请为研究区命名，例如 name = "chengdu_central"',
                                'en': 'missing: give the study area a name, e.g. name = "chengdu_central"'},
    'error.census_together': {'zh': 'census_file 与 census_code 须同时给出（例如 census_code = "120103"）',
                              'en': 'census_file and census_code go together (e.g. census_code = "120103")'},
    'error.expected_header_row': {
        'zh': '应为从 1 起算的行号（与电子表格中显示的一致）或行号列表，实为 {value}',
        'en': 'expected a row number from 1 (as the spreadsheet shows it) or a list of them, got {value}'},
    'error.expected_header_rows': {'zh': '应为至多 {most} 个连续的行，例如 [2, 3]，实为 {value}',
                                   'en': 'expected up to {most} consecutive rows, e.g. [2, 3], got {value}'},
    'error.missing_registry_file': {'zh': '缺失：登记表文件的路径', 'en': "missing: the registry's path"},
    'error.missing_key_env': {'zh': '缺失：存放密钥的环境变量名',
                              'en': 'missing: the name of the environment variable holding the key'},
    'error.unknown_capacity': {'zh': '未知的容量字段 {value}（可选：{choices}）',
                               'en': 'unknown capacity {value} (choose {choices})'},
    'error.needs_rule': {'zh': '至少需要一条标签规则或一个关键词', 'en': 'needs at least one tag rule or keyword'},
    'error.expected_goal_kind': {'zh': '应为 "binding"（约束性）或 "advisory"（倡导性），实为 {value}',
                                 'en': 'expected "binding" (约束性) or "advisory" (倡导性), got {value}'},
    'error.missing_target': {'zh': '缺失：指标的目标值', 'en': "missing: the goal's target value"},
    'error.missing_goal_categories': {'zh': '缺失：指标所涉及的设施类别',
                                      'en': 'missing: the facility categories the goal is about'},
    'error.expected_unit_level': {'zh': '应为 "community" 或 "street"', 'en': 'expected "community" or "street"'},
    'error.missing_capacity': {'zh': '缺失：所依据的容量字段（beds、nursery_places、meals_per_day 等）',
                               'en': 'missing: which capacity (beds, nursery_places, meals_per_day …)'},
    'error.missing_of_capacity': {'zh': '缺失：占比所依据的容量字段', 'en': 'missing: the capacity the share is of'},
    'error.unknown_category': {'zh': '未知的设施类别 {category}', 'en': 'unknown category {category}'},
    'error.unknown_category_have': {'zh': '未知的设施类别 {category}（现有：{have}）',
                                    'en': 'unknown category {category} (have {have})'},
    'error.unknown_goal_category': {
        'zh': '未知的设施类别 {category}（现有：{have}）；请定义 [{table}]，或为该指标设置 enabled = false',
        'en': 'unknown category {category} (have {have}); define [{table}] or set enabled = false for this goal'},
    'error.no_network_source': {
        'zh': '请给出 osm_file，或给出 place、bbox、polygon_file 之一以从 OpenStreetMap 下载，或给出 network.roads_file',
        'en': 'give osm_file, or place, bbox or polygon_file to download from OpenStreetMap, or network.roads_file'},
    # ---- errors of the input files (servicecircle.inputs): what a file is, then what is wrong with it
    'error.what_table': {'zh': '表格', 'en': 'table'},
    'error.what_communities_file': {'zh': '社区边界文件', 'en': 'communities file'},
    'error.what_streets_file': {'zh': '街道边界文件', 'en': 'streets file'},
    'error.what_districts_file': {'zh': '区县边界文件', 'en': 'districts file'},
    'error.what_area_polygon_file': {'zh': '研究区范围文件', 'en': 'area polygon file'},
    'error.what_road_line_file': {'zh': '道路线文件', 'en': 'road-line file'},
    'error.what_facility_registry': {'zh': '设施登记表', 'en': 'facility registry'},
    'error.what_population_table': {'zh': '人口表', 'en': 'population table'},
    'error.what_candidate_file': {'zh': '候选点位文件', 'en': 'candidate file'},
    'error.what_exclusion_file': {'zh': '排除区域文件', 'en': 'exclusion file'},
    'error.file_not_found': {'zh': '{what}不存在：{path}', 'en': '{what} not found: {path}'},
    'error.text_encoding': {'zh': '{path}：文本编码不是 {tried}；请在配置中设置该文件的编码（encoding）',
                            'en': '{path}: text is not in {tried}; set its encoding in the config'},
    'error.cannot_read_xlsx': {'zh': '{path}：无法按 XLSX 格式读取（{problem}）', 'en': '{path}: cannot read as XLSX ({problem})'},
    'error.cannot_read_csv': {'zh': '{path}：无法按 CSV 格式读取（{problem}）', 'en': '{path}: cannot read as CSV ({problem})'},
    'error.table_suffix': {'zh': "{path}：{what}应为 .csv 或 .xlsx 文件（实为 '{suffix}'）",
                           'en': "{path}: {what} must be .csv or .xlsx (got '{suffix}')"},
    'error.cannot_read': {'zh': '{path}：无法读取{what}（{problem}）', 'en': '{path}: cannot read {what} ({problem})'},
    'error.no_crs': {'zh': '{path}：{what}未声明坐标参考系，且其坐标不是经纬度',
                     'en': '{path}: {what} declares no coordinate reference system and is not in degrees'},
    # ---- errors of the registry sheets (servicecircle.sheets)
    'error.no_sheet': {'zh': "{path}：没有名为 '{sheet}' 的工作表（现有工作表：{sheets}）",
                       'en': "{path}: no sheet '{sheet}' (sheets: {sheets})"},
    'error.header_row_beyond': {'zh': '{path}：header_row {row} 超出了工作表的最后一行（第 {last} 行）',
                                'en': "{path}: header_row {row} is beyond the sheet's last row ({last})"},
    'error.sheet_empty': {'zh': '{path}：工作表为空', 'en': '{path}: the sheet is empty'},
    'error.template_suffix': {'zh': "{path}：模板只能写为 .xlsx 或 .csv 文件（实为 '{suffix}'）",
                              'en': "{path}: the template is written as .xlsx or .csv (got '{suffix}')"},
    # ---- errors of the population inputs (servicecircle.population)
    'error.what_census_file': {'zh': '人口普查文件', 'en': 'census file'},
    'error.what_population_raster': {'zh': '人口栅格文件', 'en': 'population raster'},
    'error.level_community': {'zh': '社区', 'en': 'community'},
    'error.level_street': {'zh': '街道', 'en': 'street'},
    'error.not_census_table': {'zh': '{path}：不是区县人口普查表（缺少列 区划代码 / 人口数_合计）',
                               'en': '{path}: not the county census table (no 区划代码 / 人口数_合计 columns)'},
    'error.census_code_not_found': {'zh': '{path}：未找到 census_code {code}（应为六位区划代码，例如 120103）',
                                    'en': '{path}: census_code {code} not found (a six-digit 区划代码, e.g. 120103)'},
    'error.raster_needs_rasterio': {'zh': '{path}：读取人口栅格需要安装 rasterio：pip install "servicecircle[raster]"',
                                    'en': '{path}: reading a population raster needs rasterio: pip install "servicecircle[raster]"'},
    'error.raster_no_crs': {'zh': '{path}：该栅格未声明坐标参考系', 'en': '{path}: the raster declares no coordinate reference system'},
    'error.population_columns': {
        'zh': '{path}：须有一个居民人数列（人口/residents），以及一个代码列或名称列（现有列：{columns}）',
        'en': '{path}: needs a residents column (人口/residents) and a code or name column (columns: {columns})'},
    'error.population_units': {'zh': '{path}：人口表按{level}给出，但未载入{level}边界',
                               'en': '{path}: population table per {level}, but no {level} polygons are loaded'},
    # ---- errors of the walk network (servicecircle.network, servicecircle.osm)
    'error.what_osm_file': {'zh': 'OSM 文件', 'en': 'OSM file'},
    'error.no_walkable_ways_area': {'zh': '{path}：该区域内没有可步行的道路', 'en': '{path}: no walkable ways in this area'},
    'error.no_walkable_lines': {'zh': '{path}：没有可步行的道路线（道路等级 {classes} …）',
                                'en': '{path}: no walkable lines (classes {classes} …)'},
    'error.osm_file_not_found_no_download': {
        'zh': 'OSM 文件不存在：{path}（也未给出可用于下载的 bbox、place 或 polygon_file）',
        'en': 'OSM file not found: {path} (and no bbox, place or polygon_file to download instead)'},
    'error.not_osm_file': {'zh': '{path}：不是 OSM 文件（应为 {suffixes} 之一）',
                           'en': '{path}: not an OSM file (expected one of {suffixes})'},
    'error.cannot_read_osm': {'zh': '{path}：无法读取 OSM 数据（{problem}）', 'en': '{path}: cannot read OSM data ({problem})'},
    'error.no_walkable_ways_file': {'zh': "{path}：该文件中没有可步行的道路（按 osmnx 'walk' 规则）",
                                    'en': "{path}: no walkable ways (osmnx 'walk' rules) in this file"},
    'error.osm_no_walkable_ways': {'zh': 'OpenStreetMap 未返回该区域内可步行的道路（{problem}）',
                                   'en': 'OpenStreetMap returned no walkable ways for this area ({problem})'},
    'error.overpass_unreachable': {
        'zh': '无法从 Overpass API（{url}）下载（{problem}）；无互联网时，请在 [area] 的 osm_file 中给出本地 OSM 数据',
        'en': 'cannot download from the Overpass API at {url} ({problem}); without internet give [area] osm_file a local extract'},
    # ---- errors of the siting and capacity plans (servicecircle.siting)
    'error.weight_unknown': {'zh': '--weight {weight}：应为 residents、60plus、young、0_3 或 0_4',
                             'en': '--weight {weight}: expected residents, 60plus, young, 0_3 or 0_4'},
    'error.weight_not_served': {
        'zh': '--weight {weight}：{category} 的服务对象为 {group}（其 demand_group），不是 {weight}；请按 residents 或 {group} 为选址加权',
        'en': '--weight {weight}: {category} serves {group} (its demand_group), not {weight}; weigh its sites by residents or {group}'},
    'error.site_add_or_target': {'zh': '请给出拟新增的点位数（--add K）或目标覆盖率（--target 0.9），二者选其一',
                                 'en': 'give either the number of sites to add (--add K) or a target share (--target 0.9)'},
    'error.no_candidate_sites': {'zh': '没有候选点位（均被排除或位于研究区之外）',
                                 'en': 'no candidate sites (all excluded or outside the study area)'},
    'error.no_capacity_field': {'zh': '{category} 没有容量字段（categories.{category}.capacity）：无法编制容量规划',
                                'en': '{category} has no capacity field (categories.{category}.capacity): no capacity plan'},
    'error.no_capacity_goal': {'zh': "没有关于 {category} 的 {capacity} 的 capacity_per_1000 指标：请给出标准（--per-1000）",
                               'en': "no capacity_per_1000 goal for {category}'s {capacity}: give the standard (--per-1000)"},
    'error.no_known_capacity': {'zh': '没有任何 {category} 设施有已知的 {capacity}：请载入含容量的登记表',
                                'en': 'no {category} facility has a known {capacity}: load a registry with capacities'},
    # ---- errors of the command line, the comparison, the pages and the boundary and road-line files
    'error.add_at_least_one': {'zh': '--add 应不小于 1，实为 {value}', 'en': '--add must be at least 1, got {value}'},
    'error.target_share': {'zh': '--target 应为 0 与 1 之间的比例，实为 {value}', 'en': '--target is a share between 0 and 1, got {value}'},
    'error.run_file_not_found': {'zh': '{path}：文件不存在——{folder} 是否为 servicecircle 运行的输出文件夹？',
                                 'en': '{path}: not found — is {folder} the output folder of a servicecircle run?'},
    'error.not_run_summary': {'zh': '{path}：不是运行摘要文件（{problem}）', 'en': '{path}: not a run summary ({problem})'},
    'error.xstatic_missing': {
        'zh': '离线页面需内嵌 xstatic-{package} 包（servicecircle 的依赖）中的 {package}：请执行 pip install xstatic-{package}，或加 --cdn 运行',
        'en': 'self-contained pages inline {package} from the xstatic-{package} package, a dependency of servicecircle: pip install xstatic-{package}, or run with --cdn'},
    'error.no_field': {'zh': "{path}：缺少字段 '{field}'（现有字段：{fields}）", 'en': "{path}: no field '{field}' (fields: {fields})"},
    'error.no_class_field': {
        'zh': "{path}：缺少道路等级字段 '{field}'（现有字段：{fields}）；请设置 network.class_field",
        'en': "{path}: no field '{field}' for the road class (fields: {fields}); set network.class_field"},
    'error.webmap_no_key': {
        'zh': '{service}：环境变量中没有密钥（key），{path} 也没有缓存的响应',
        'en': '{service}: no key in the environment and no cached response for {path}'},
    'error.webmap_refused': {
        'zh': '{service} 拒绝了请求（{code} {info}）：请检查密钥是否有效、当日配额是否用完；已取得的响应均已缓存',
        'en': "{service} refused the request ({code} {info}): check the key's validity and daily quota; "
              "responses fetched so far are cached"},
    'error.webmap_failed': {
        'zh': '{service}：{path} 连续 {times} 次失败（{problem}）；已取得的响应均已缓存，重新运行即可继续',
        'en': '{service}: {path} failed {times} times ({problem}); responses fetched so far are cached, rerun to continue'},
    'error.not_json': {'zh': '响应不是 JSON', 'en': 'not JSON'},
    'error.rate_limit': {'zh': '调用频率超限 {code} {info}', 'en': 'rate limit ({code} {info})'},
    'error.registry_no_coordinates': {
        'zh': '{path}：没有坐标列（经度/lon 和 纬度/lat，或 坐标 "lng,lat"）；现有列：{columns}',
        'en': '{path}: no coordinate columns (经度/lon and 纬度/lat, or 坐标 "lng,lat"); columns are {columns}'},
    'error.registry_no_coordinates_geocode': {
        'zh': '{path}：没有坐标列（经度/lon 和 纬度/lat，或 坐标 "lng,lat"）；它有地址列：在研究区文件中加入 '
              '[facilities.geocoder] 即可按地址定位；现有列：{columns}',
        'en': '{path}: no coordinate columns (经度/lon and 纬度/lat, or 坐标 "lng,lat"); it has an address column: '
              'add a [facilities.geocoder] to geocode it; columns are {columns}'},
    'log.warning': {'zh': '警告', 'en': 'WARNING'},
    'log.no_crs': {'zh': '{path} 未声明坐标参考系：按 {system} 经纬度读取', 'en': '{path} declares no CRS; reading its degrees as {system}'},
    'log.osm_download': {'zh': '找不到 OSM 文件 {path}：改为从 OpenStreetMap 下载该区域',
                         'en': 'OSM file {path} not found: downloading the area from OpenStreetMap'},
    'log.cache_not_written': {'zh': '{folder}：无法缓存 {stage}（{error}）；下次运行将重新计算',
                              'en': '{folder}: could not cache the {stage} ({error}); the next run computes it again'},
    'log.cache_unreadable': {'zh': '{path}：缓存的 {stage} 无法读取（{error}）；重新计算',
                             'en': '{path}: cached {stage} unreadable ({error}); computing it again'},
    'error.batch_missing': {'zh': '批量文件不存在：{path}', 'en': 'batch file not found: {path}'},
    'error.batch_not_toml': {'zh': '{path}：不是有效的 TOML：{error}', 'en': '{path}: not valid TOML: {error}'},
    'error.batch_no_table': {'zh': '{path}：缺少 [batch] 表', 'en': '{path}: missing [batch] table'},
    'error.batch_configs_and_base': {
        'zh': '{path}：batch.configs 列出的是完整的研究区配置，不能与 base、districts_file 同时给出',
        'en': '{path}: batch.configs names whole study areas; give it without base and districts_file'},
    'error.batch_configs_list': {'zh': '{path}：batch.configs 应为研究区配置文件的列表',
                                 'en': '{path}: batch.configs must be a list of study-area config files'},
    'error.batch_same_code': {
        'zh': '{path}：batch.configs 中有两个配置给出相同的区县代码（population.census_code，否则为 area.name）：{codes}',
        'en': '{path}: two batch.configs give the same district code (population.census_code, else area.name): {codes}'},
    'error.batch_key_missing': {'zh': '{path}：缺少 batch.{key_name}（或改用 batch.configs，即研究区配置文件的列表）',
                                'en': '{path}: batch.{key_name} missing (or give batch.configs, a list of study-area configs)'},
    'error.batch_no_field': {'zh': "{path}：batch 的 code_field/name_field '{field}' 不是区县文件的字段（现有字段：{fields}）",
                             'en': "{path}: batch code_field/name_field '{field}' not a field of the districts file "
                                   "(fields: {fields})"},
    'error.batch_code_repeats': {'zh': "{path}：batch.code_field '{field}' 中有重复的代码",
                                 'en': "{path}: batch.code_field '{field}' repeats a code"},
    'error.batch_no_area': {'zh': '{path}：作为批量中的区县，需要 area.polygon_file、area.bbox 或 [communities] 文件来确定其范围',
                            'en': '{path}: a batch district needs area.polygon_file, area.bbox or a [communities] file to '
                                  'know its area'},
    # The command line (cli._parser): help texts, argparse's own words and its errors.
    'cli.description': {
        'zh': '测算研究区的一刻钟服务圈：哪些居民可在 5、10、15 分钟内步行到达养老服务、老年助餐和托育设施，\n'
              '按 H3 网格和社区统计。\n\n'
              '研究区用一个 TOML 文件描述，带注释的示例见 data/chengdu.toml。每次运行的结果写入一个文件夹\n'
              '（默认 maps/<研究区>/）：\n'
              '  index.html          报告页：指标、评分表、图表、方法与地图\n'
              '  map.html            交互地图：步行时间、盲区、设施、社区\n'
              '  servicecircle.gpkg  图层 facilities、service_areas、cells、communities\n'
              '  communities.csv     每个社区一行\n'
              '  summary.json        主要数字（覆盖率、设施数、步速）',
        'en': 'Measure the 15-minute service circle (一刻钟服务圈) of a study area: who can walk\n'
              'to an elder-care centre (养老服务), an elderly canteen (老年助餐) and a nursery\n'
              '(托育) within 5, 10 and 15 minutes, per H3 cell and per community.\n\n'
              'A study area is described by a TOML file; see data/chengdu.toml for a\n'
              'commented example. Results go to one folder per run (default maps/<area>/):\n'
              '  index.html          report page: goals, scorecard, charts, methods, and the map\n'
              '  map.html            interactive map of walk times, gaps, facilities, communities\n'
              '  servicecircle.gpkg  layers facilities, service_areas, cells, communities\n'
              '  communities.csv     one row per community\n'
              '  summary.json        headline figures (coverage shares, facility counts, speed)'},
    'cli.examples': {'zh': '示例：', 'en': 'examples:'},
    'cli.usage': {'zh': '用法：', 'en': 'usage: '},
    'cli.positionals': {'zh': '位置参数', 'en': 'positional arguments'},
    'cli.options': {'zh': '选项', 'en': 'options'},
    'cli.commands': {'zh': '命令', 'en': 'commands'},
    'cli.help': {'zh': '显示本帮助并退出', 'en': 'show this help message and exit'},
    'cli.error_line': {'zh': '{prog}：错误：{message}', 'en': '{prog}: error: {message}'},
    'cli.err_required': {'zh': '缺少必需的参数：{a0}', 'en': 'the following arguments are required: {a0}'},
    'cli.err_choice': {'zh': '参数 {a0}：无效的选项 {a1}（可选：{a2}）',
                       'en': 'argument {a0}: invalid choice: {a1} (choose from {a2})'},
    'cli.err_value': {'zh': '参数 {a0}：无效的 {a1} 值：{a2}', 'en': 'argument {a0}: invalid {a1} value: {a2}'},
    'cli.err_one': {'zh': '参数 {a0}：需要一个值', 'en': 'argument {a0}: expected one argument'},
    'cli.err_together': {'zh': '参数 {a0}：不能与参数 {a1} 同时使用', 'en': 'argument {a0}: not allowed with argument {a1}'},
    'cli.err_one_of': {'zh': '须给出参数 {a0} 之一', 'en': 'one of the arguments {a0} is required'},
    'cli.err_unknown': {'zh': '无法识别的参数：{a0}', 'en': 'unrecognized arguments: {a0}'},
    'cli.config': {'zh': '研究区配置文件', 'en': 'study-area settings file'},
    'cli.out': {'zh': '输出文件夹（覆盖 [output] dir）', 'en': 'output folder (overrides [output] dir)'},
    'cli.speed_profile': {'zh': '步行速度：default 为 1.0 米/秒，elderly 为 0.8 米/秒（覆盖 [access]）',
                          'en': 'walking speed: default 1.0 m/s, elderly 0.8 m/s (overrides [access])'},
    'cli.quiet': {'zh': '不显示进度条', 'en': 'no progress bar'},
    'cli.refresh': {'zh': '重新请求网络地图兴趣点搜索与地址解析，不用缓存',
                    'en': 'refetch web-map POI searches and geocoding instead of their cache'},
    'cli.recompute': {'zh': '重新计算每个阶段、重写每个文件，不沿用相同输入的缓存（步行网络仍取自其自身缓存）',
                      'en': 'compute every stage and write every file again, reusing nothing a run with the same '
                            'inputs cached (the walk network still comes from its own cache)'},
    'cli.lang': {'zh': '报告页与地图的语言（覆盖 [output] lang）',
                 'en': 'language of the report page and map (overrides [output] lang)'},
    'cli.cdn': {'zh': '从 CDN 加载地图库（Leaflet）：页面更小，但需联网（默认：自包含页面，适合无外网的内网）',
                'en': 'load the map library (Leaflet) from its CDN: smaller pages that need the internet '
                      '(default: self-contained pages, for intranets without internet)'},
    'cli.offline': {'zh': '自包含页面，内嵌地图库（默认；覆盖 [output] offline）',
                    'en': 'self-contained pages, the map library inlined (the default; overrides [output] offline)'},
    'cli.basemap': {'zh': '底图（覆盖 [output] basemap）；amap、tencent 为 GCJ-02，叠加图层随之偏移以对齐',
                    'en': 'map tiles (overrides [output] basemap); amap/tencent are GCJ-02, overlays shifted to match'},
    'cli.run': {'zh': '对一个研究区运行分析', 'en': 'run the analysis for one study area'},
    'cli.site': {'zh': '为某一类设施推荐新址', 'en': 'recommend sites for new facilities of one category'},
    'cli.site_description': {
        'zh': '先运行分析，再推荐某一类新设施的选址，使其覆盖尚未在覆盖阈值内的最多居民（保留现有设施）。',
        'en': 'Run the analysis, then recommend where new facilities of one category cover the most residents '
              'not yet within the coverage threshold (existing kept).'},
    'cli.site_category': {'zh': '设施类别，如 elder_care、canteen、nursery',
                          'en': 'facility category, e.g. elder_care, canteen, nursery'},
    'cli.add': {'zh': '新增设施数', 'en': 'number of new sites'},
    'cli.target': {'zh': '达到该覆盖率（0–1）所需的最少新址', 'en': 'fewest new sites reaching this covered share (0–1)'},
    'cli.weight': {'zh': '要覆盖的需求：全部居民、60 岁及以上老人或婴幼儿（0–3 岁，否则 0–4 岁）',
                   'en': 'demand to cover: all residents, aged 60+, or small children (0–3, else 0–4)'},
    'cli.candidates': {'zh': '候选地点（点或面）；默认取步行网络', 'en': 'candidate sites (points or polygons); default: the network'},
    'cli.coord_system': {'zh': '该文件的坐标系', 'en': "the file's coordinate system"},
    'cli.exclude': {'zh': '不得选址的区域（面）', 'en': 'polygons where no site may go'},
    'cli.spacing': {'zh': '网络候选点间距，按街道每 M 米一个（默认 100）',
                    'en': 'network candidates every M metres of street (default 100)'},
    'cli.capacity': {'zh': '增加的床位或托位在哪里最能满足未满足的需求', 'en': 'where added beds or places serve the most unmet demand'},
    'cli.capacity_description': {
        'zh': '先运行分析，再把某一类设施容量（床位、托位、餐位）的未满足需求分配给能服务它的设施，并按社区列出没有设施能到达的需求。',
        'en': "Run the analysis, then split the unmet need for one category's capacity (beds, nursery places, "
              "meals) among the facilities that can serve it, and list the need no facility reaches, per community."},
    'cli.capacity_category': {'zh': '有容量的设施类别，如 nursery、elder_care',
                              'en': 'facility category with a capacity, e.g. nursery, elder_care'},
    'cli.per_1000': {'zh': '每千人标准（默认：该类别 capacity_per_1000 指标的目标值）',
                     'en': "the standard per 1,000 of the group (default: the category's capacity_per_1000 goal)"},
    'cli.group': {'zh': '标准所计的人群（默认：指标所定的人群）', 'en': "the population the standard counts (default: the goal's)"},
    'cli.compare': {'zh': '两次运行之间的变化，按街道和社区', 'en': 'what changed between two runs, per street and community'},
    'cli.compare_description': {
        'zh': '比较两次运行的输出文件夹（前、后）：各街道和社区的覆盖率、新达标或不再达标的指标、已消除或新出现的盲区。'
              '写出 compare.xlsx 和 compare.html。',
        'en': 'Compare two run output folders (before, after): covered shares per street and community, goals '
              'newly met or no longer met, blind spots closed or new. Writes compare.xlsx and compare.html.'},
    'cli.run_a': {'zh': '较早一次运行的输出文件夹（前）', 'en': 'output folder of the earlier run (before)'},
    'cli.run_b': {'zh': '较晚一次运行的输出文件夹（后）', 'en': 'output folder of the later run (after)'},
    'cli.compare_out': {'zh': '写出位置（默认：RUN_B/compare）', 'en': 'where to write (default: RUN_B/compare)'},
    'cli.compare_lang': {'zh': '页面与工作簿的语言', 'en': 'language of the page and workbook'},
    'cli.template': {'zh': '写出可填写的设施名录模板（.xlsx 或 .csv）', 'en': 'write a fill-in facility registry template (.xlsx or .csv)'},
    'cli.template_description': {
        'zh': '写出名录模板：含读取时可识别的表头和一行示例（名称以“示例”开头：读取时跳过，改写为真实设施后才计入）。'
              '.xlsx 另含一张填写说明。',
        'en': 'Write a registry template with the headers the reader recognises and one example row (its name '
              'begins with 示例: it is skipped when read, until rewritten as a real facility). The .xlsx has a '
              'sheet of instructions too.'},
    'cli.template_file': {'zh': '要写出的模板，.xlsx 或 .csv', 'en': 'the template to write, .xlsx or .csv'},
    'cli.template_lang': {'zh': '表头与说明的语言', 'en': 'language of the headers and instructions'},
    'cli.force': {'zh': '若 FILE 已存在则覆盖', 'en': 'overwrite FILE if it exists'},
    'cli.batch': {'zh': '在 Dask 上一次评估多个区县（每个区县一个任务）', 'en': 'score many districts at once on Dask (one task per district)'},
    'cli.batch_description': {
        'zh': '对批量文件中的每个区县运行基础研究区配置：区县范围外扩最长步行距离，结果裁回区县后合并；重新运行时沿用已完成的区县。',
        'en': 'Run a base study-area config on each district of a batch file, its polygon buffered by the '
              'longest walk, clipped back and merged; finished districts are reused on a rerun.'},
    'cli.batch_file': {'zh': '含 [batch] 表的批量文件', 'en': 'batch file with a [batch] table'},
    'cli.serial': {'zh': '不用 Dask：逐个区县运行', 'en': 'no Dask: the districts one after another'},
    'cli.scheduler': {'zh': '已有的 Dask 调度器地址（默认：本机 LocalCluster）', 'en': 'an existing Dask scheduler (default: a LocalCluster)'},
    'cli.workers': {'zh': 'LocalCluster 的工作进程数（默认：CPU 核数）', 'en': 'LocalCluster workers (default: the cores)'},
    'cli.batch_lang': {'zh': '控制台信息的语言', 'en': 'language of the console messages'},
    'batch.title': {'zh': '一刻钟服务圈批量评估', 'en': '15-minute service circle batch'},
    'batch.overview': {'zh': '各区县一览', 'en': 'Districts'},
    'batch.district': {'zh': '区县', 'en': 'district'},
    'batch.code': {'zh': '区划代码', 'en': 'code'},
    'batch.residents': {'zh': '居民', 'en': 'residents'},
    'batch.covered': {'zh': '{label}覆盖率', 'en': '{label} covered'},
    'batch.goals_met': {'zh': '达标指标', 'en': 'goals met'},
    'batch.goals_failed': {'zh': '未达标指标', 'en': 'goals failed'},
    'batch.goals_unassessed': {'zh': '未评估指标', 'en': 'goals not assessed'},
    'batch.status': {'zh': '状态', 'en': 'status'},
    'batch.ok': {'zh': '完成', 'en': 'ok'},
    'batch.failed': {'zh': '失败：{error}', 'en': 'failed: {error}'},
    'batch.links': {'zh': '报告与地图', 'en': 'report and map'},
    'batch.report': {'zh': '报告', 'en': 'report'},
    'batch.map': {'zh': '地图', 'en': 'map'},
    'batch.note': {
        'zh': '居民与覆盖率按区县内的网格（网格中心在区县内）合计；指标按各区县自己的范围评估：区县一行计区县内网格的居民和区县内的设施，'
              '街道、社区各行计分配到该区县的街道、社区的全部居民（跨界社区整体计入一个区县）。各区县的运行范围外扩了最长步行距离，'
              '跨界步行可达的设施也计入。',
        'en': "Residents and covered shares sum the district's own cells (cells whose centre lies in it); goals are "
              "judged on the district's own units: the district row counts the residents of its cells and the "
              "facilities inside it, street and community rows all residents of the streets and communities assigned "
              "to it (a community crossing a border counts whole, in one district). Each district ran on its area "
              "buffered by the longest walk, so facilities reached across a border count.",
    },
    'batch.map_title': {'zh': '{label}覆盖率（点击区县打开其地图）', 'en': '{label} covered (click a district to open its map)'},
    'batch.map_failed': {'zh': '运行失败或无居民', 'en': 'failed or no residents'},
    'batch.done': {'zh': '✓ {code} {name}（{took}）', 'en': '✓ {code} {name} ({took})'},
    'batch.cached': {'zh': '已完成，沿用', 'en': 'cached'},
    'batch.seconds': {'zh': '{seconds:.1f} 秒', 'en': '{seconds:.1f} s'},
    'batch.error': {'zh': '✗ {code}：{error}', 'en': '✗ {code}: {error}'},
    'batch.wrote': {'zh': '已写出 {path}', 'en': 'wrote {path}'},
}


def text(lang: str, key: str, /, **values: Any) -> str:
    """The text of ``key`` in ``lang``, its placeholders filled from ``values``."""
    return TEXTS[key][lang].format(**values) if values else TEXTS[key][lang]


def logged(key: str, /, **values: Any) -> dict[str, Any]:
    """``extra=`` of a log call whose message is the catalogue's ``key``: the command line words it in the
    run's language (the record's own message, for other handlers, stays English)."""
    return {"text_key": key, "text_values": values}


def section(lang: str, prefix: str) -> dict[str, str]:
    """The raw texts of every key starting with ``prefix`` (prefix dropped), in catalogue order."""
    return {k[len(prefix):]: v[lang] for k, v in TEXTS.items() if k.startswith(prefix)}


def demand_words(lang: str, column: str) -> str:
    """Who a residents column counts (``residents_60plus`` → 60岁及以上老年人), in ``lang``."""
    group = str(column).removeprefix("residents").strip("_") or "all"
    key = f"goal.who_{group}"
    return text(lang, key) if key in TEXTS else str(column)


def capacity_word(lang: str, capacity: str) -> str:
    """A capacity column (``beds``) in words of ``lang``: the map's popup label where it has one, else the column."""
    key = f"popup.{capacity}"
    return text(lang, key) if key in TEXTS else capacity
