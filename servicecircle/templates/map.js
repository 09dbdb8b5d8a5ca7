// servicecircle map: draws the run's compact tables (written by servicecircle/maps.py) on canvas tiles.
//
// Every table arrives as deflated, byte-shuffled typed columns in a base64 <script> element and
// is decoded on first use with the browser's own DecompressionStream. Cells, facilities and
// polygons are drawn by one small L.GridLayer subclass per layer; a bucket index per table finds
// what a tile shows and what a click hits, and popups are composed on click. Strings in the
// tables were HTML-escaped by maps.py and are inserted as such; everything else shown is a
// number formatted here.
(function () {
  'use strict';

  const LAYERS = JSON.parse(document.getElementById('sc-layers').textContent);
  const DATA = JSON.parse(document.getElementById('sc-data').textContent);
  const UI = DATA.ui;
  const TXT = UI.text;
  const TILE = 256;
  const UNREACHABLE = 0xFFFFFFFF;
  const TYPES = {u1: Uint8Array, i1: Int8Array, u2: Uint16Array, i2: Int16Array, u4: Uint32Array, i4: Int32Array,
                 f4: Float32Array, f8: Float64Array};
  const stats = {cellsDrawn: 0, parentsDrawn: 0, facilitiesDrawn: 0, polygonsDrawn: 0, labelsDrawn: 0, tiles: 0,
                 firstCellsMs: null, decodeMs: {}, layerDrawnMs: []};

  // ------------------------------------------------------------------ decoding

  // Base85 (RFC 1924 alphabet, '<' written as '.'; maps._text_of): 5 characters → 4 bytes, big-endian;
  // a last group of k + 1 characters holds k bytes. Browsers decode base64 natively but not base85,
  // which keeps the page a sixteenth smaller.
  const B85 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;.=>?@^_`{|}~';
  const B85_VALUE = new Uint8Array(128);
  for (let i = 0; i < B85.length; i++) B85_VALUE[B85.charCodeAt(i)] = i;
  function blobBytes(name) {
    const text = document.getElementById('sc-blob-' + name).textContent.trim();
    const full = Math.floor(text.length / 5), rest = text.length % 5;
    const out = new Uint8Array(full * 4 + Math.max(rest - 1, 0));
    let o = 0;
    for (let g = 0; g <= full; g++) {
      const k = g < full ? 5 : rest;
      if (k === 0) break;
      let v = 0;
      for (let j = 0; j < 5; j++) v = v * 85 + (j < k ? B85_VALUE[text.charCodeAt(5 * g + j)] : 84);
      for (let j = 0; j < k - 1; j++) out[o++] = Math.floor(v / Math.pow(256, 3 - j)) % 256;
    }
    return out;
  }

  async function inflate(bytes) {
    const stream = new Response(bytes).body.pipeThrough(new DecompressionStream('deflate'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  // Undo the byte shuffle: byte b of value i was stored at offset + b * n + i (little-endian values).
  function unshuffle(raw, offset, n, size) {
    if (size === 1) return raw.slice(offset, offset + n).buffer;
    const out = new Uint8Array(n * size);
    for (let b = 0; b < size; b++) {
      const base = offset + b * n;
      for (let i = 0, j = b; i < n; i++, j += size) out[j] = raw[base + i];
    }
    return out.buffer;
  }

  function decodeColumn(raw, spec) {
    const [dtype, codec, offset, n] = spec;
    const T = TYPES[dtype];
    const buf = unshuffle(raw, offset, n, T.BYTES_PER_ELEMENT);
    if (codec === 'raw' || codec === 'text') return new T(buf);
    const u = new T(buf);  // u1/u2/u4 codes (maps._narrow)
    if (codec === 'zigzag') {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = (u[i] >>> 1) ^ -(u[i] & 1);
      return out;
    }
    if (codec === 'zdelta') {
      const out = new Int32Array(n);
      let acc = 0;
      for (let i = 0; i < n; i++) { acc = (acc + ((u[i] >>> 1) ^ -(u[i] & 1))) | 0; out[i] = acc; }
      return out;
    }
    if (codec === 'mdelta') {
      const out = new Uint32Array(n);
      let acc = 0;
      for (let i = 0; i < n; i++) { acc = (acc + u[i]) >>> 0; out[i] = acc; }
      return out;
    }
    throw new Error('unknown column codec ' + codec);
  }

  const datasets = {};
  function dataset(name) {
    if (!datasets[name]) datasets[name] = loadDataset(name);
    return datasets[name];
  }

  async function loadDataset(name) {
    const t0 = performance.now();
    const spec = DATA.datasets[name];
    const raw = await inflate(blobBytes(name));
    const ds = {name: name, n: spec.n, col: {}, json: spec.json, textCache: {}};
    for (const [key, s] of Object.entries(spec.columns)) ds.col[key] = decodeColumn(raw, s);
    ds.text = function (key) {  // newline-joined escaped strings, split on first use
      if (!this.textCache[key]) this.textCache[key] = new TextDecoder().decode(this.col[key]).split('\n');
      return this.textCache[key];
    };
    stats.decodeMs[name] = [Math.round(t0), Math.round(performance.now())];  // start and end, ms after navigation
    return ds;
  }

  // Rings from their residuals (inverse of _ring_residuals in maps.py): first vertices chained
  // ring to ring, other vertices by their edge vectors, which with `pattern` are differences to
  // the same edge of the previous ring when both have as many vertices.
  function decodeRings(nv, vx, vy, pattern) {
    const R = nv.length;
    const off = new Uint32Array(R + 1);
    for (let r = 0; r < R; r++) off[r + 1] = off[r] + nv[r];
    const V = off[R];
    const q = new Int32Array(2 * V);
    const edge = pattern ? new Int32Array(2 * V) : null;
    let fx = 0, fy = 0;
    for (let r = 0; r < R; r++) {
      const s = off[r], n = nv[r];
      const same = pattern && r > 0 && nv[r - 1] === n;
      fx += vx[s]; fy += vy[s];
      q[2 * s] = fx; q[2 * s + 1] = fy;
      for (let k = s + 1; k < s + n; k++) {
        let dx = vx[k], dy = vy[k];
        if (same) { dx += edge[2 * (k - n)]; dy += edge[2 * (k - n) + 1]; }
        if (pattern) { edge[2 * k] = dx; edge[2 * k + 1] = dy; }
        q[2 * k] = q[2 * k - 2] + dx; q[2 * k + 1] = q[2 * k - 1] + dy;
      }
    }
    return {off: off, q: q};
  }

  // Web Mercator "world pixels" at zoom 0, as Leaflet's EPSG:3857 (×2^z for zoom z).
  function mercX(lon) { return (lon + 180) / 360 * TILE; }
  function mercY(lat) {
    const s = Math.sin(Math.max(-85.0511287798, Math.min(85.0511287798, lat)) * Math.PI / 180);
    return (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * TILE;
  }
  function projectQ(q) {
    const P = new Float64Array(q.length);
    for (let i = 0; i < q.length; i += 2) { P[i] = mercX(q[i] * 1e-5); P[i + 1] = mercY(q[i + 1] * 1e-5); }
    return P;
  }

  // ------------------------------------------------------------------ bucket indexes

  // Items (points) in a uniform grid of buckets, as a CSR list: what a tile or a click may touch.
  function pointIndex(xs, ys, ids, size) {
    const n = ids.length;
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (let k = 0; k < n; k++) {
      const i = ids[k];
      if (xs[i] < minX) minX = xs[i]; if (xs[i] > maxX) maxX = xs[i];
      if (ys[i] < minY) minY = ys[i]; if (ys[i] > maxY) maxY = ys[i];
    }
    if (!n) { minX = minY = 0; maxX = maxY = 1; }
    // At most about four buckets an item (and never fewer than 256 in all): memory stays linear.
    const buckets = Math.max(4 * n, 256);
    size = Math.max(size, Math.sqrt((maxX - minX) * (maxY - minY) / buckets), (maxX - minX) / buckets,
                    (maxY - minY) / buckets, 1e-12);
    const nx = Math.floor((maxX - minX) / size) + 1, ny = Math.floor((maxY - minY) / size) + 1;
    const start = new Uint32Array(nx * ny + 1);
    const key = new Uint32Array(n);
    for (let k = 0; k < n; k++) {
      const i = ids[k];
      key[k] = Math.floor((ys[i] - minY) / size) * nx + Math.floor((xs[i] - minX) / size);
      start[key[k] + 1]++;
    }
    for (let b = 0; b < nx * ny; b++) start[b + 1] += start[b];
    const fill = start.slice(0, nx * ny);
    const items = new Uint32Array(n);
    for (let k = 0; k < n; k++) items[fill[key[k]]++] = ids[k];
    return {
      query: function (x0, y0, x1, y1, fn) {
        const bx0 = Math.max(0, Math.floor((x0 - minX) / size)), bx1 = Math.min(nx - 1, Math.floor((x1 - minX) / size));
        const by0 = Math.max(0, Math.floor((y0 - minY) / size)), by1 = Math.min(ny - 1, Math.floor((y1 - minY) / size));
        for (let by = by0; by <= by1; by++) {
          for (let bx = bx0; bx <= bx1; bx++) {
            const b = by * nx + bx;
            for (let k = start[b]; k < start[b + 1]; k++) fn(items[k]);
          }
        }
      }
    };
  }

  // Rings by bounding box: each ring in the buckets its box covers; rings wider than 16 × 16
  // buckets (a city's merged service area) sit on one list that every query visits.
  function ringIndex(P, off) {
    const R = off.length - 1;
    const box = new Float64Array(4 * R);
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity, span = 0;
    for (let r = 0; r < R; r++) {
      let a = Infinity, b = Infinity, c = -Infinity, d = -Infinity;
      for (let k = off[r]; k < off[r + 1]; k++) {
        const x = P[2 * k], y = P[2 * k + 1];
        if (x < a) a = x; if (x > c) c = x; if (y < b) b = y; if (y > d) d = y;
      }
      box[4 * r] = a; box[4 * r + 1] = b; box[4 * r + 2] = c; box[4 * r + 3] = d;
      if (a < minX) minX = a; if (b < minY) minY = b; if (c > maxX) maxX = c; if (d > maxY) maxY = d;
      span += Math.max(c - a, d - b);
    }
    if (!R) { minX = minY = 0; maxX = maxY = 1; }
    const size = Math.max(2 * span / Math.max(R, 1), (maxX - minX) / 1024, (maxY - minY) / 1024, 1e-12);
    const nx = Math.floor((maxX - minX) / size) + 1, ny = Math.floor((maxY - minY) / size) + 1;
    const lists = new Map();
    const big = [];
    for (let r = 0; r < R; r++) {
      const bx0 = Math.floor((box[4 * r] - minX) / size), bx1 = Math.floor((box[4 * r + 2] - minX) / size);
      const by0 = Math.floor((box[4 * r + 1] - minY) / size), by1 = Math.floor((box[4 * r + 3] - minY) / size);
      if ((bx1 - bx0 + 1) * (by1 - by0 + 1) > 256) { big.push(r); continue; }
      for (let by = by0; by <= by1; by++) {
        for (let bx = bx0; bx <= bx1; bx++) {
          const b = by * nx + bx;
          let l = lists.get(b);
          if (!l) { l = []; lists.set(b, l); }
          l.push(r);
        }
      }
    }
    const stamp = new Uint32Array(R);
    let visit = 0;
    return {
      box: box,
      query: function (x0, y0, x1, y1, fn) {
        visit++;
        const hit = function (r) {
          if (stamp[r] === visit) return;
          stamp[r] = visit;
          if (box[4 * r] <= x1 && box[4 * r + 2] >= x0 && box[4 * r + 1] <= y1 && box[4 * r + 3] >= y0) fn(r);
        };
        big.forEach(hit);
        const bx0 = Math.max(0, Math.floor((x0 - minX) / size)), bx1 = Math.min(nx - 1, Math.floor((x1 - minX) / size));
        const by0 = Math.max(0, Math.floor((y0 - minY) / size)), by1 = Math.min(ny - 1, Math.floor((y1 - minY) / size));
        for (let by = by0; by <= by1; by++) {
          for (let bx = bx0; bx <= bx1; bx++) {
            const l = lists.get(by * nx + bx);
            if (l) l.forEach(hit);
          }
        }
      }
    };
  }

  // Ray casting on projected vertices k0..k1-1 of one ring.
  function inRing(P, k0, k1, x, y) {
    let inside = false;
    for (let k = k0, j = k1 - 1; k < k1; j = k++) {
      const xi = P[2 * k], yi = P[2 * k + 1], xj = P[2 * j], yj = P[2 * j + 1];
      if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }

  // ------------------------------------------------------------------ tables as the map uses them

  const cellLevels = {};
  function cellLevel(level) {
    if (!cellLevels[level.dataset]) {
      cellLevels[level.dataset] = dataset(level.dataset).then(function (ds) {
        const rings = decodeRings(ds.col.nv, ds.col.vx, ds.col.vy, true);
        const P = projectQ(rings.q);
        const n = ds.n, cx = new Float64Array(n), cy = new Float64Array(n), ids = new Uint32Array(n);
        let radius = 0, edge = 0;
        for (let i = 0; i < n; i++) {
          const k0 = rings.off[i], k1 = rings.off[i + 1];
          let sx = 0, sy = 0;
          for (let k = k0; k < k1; k++) { sx += P[2 * k]; sy += P[2 * k + 1]; }
          cx[i] = sx / (k1 - k0); cy[i] = sy / (k1 - k0); ids[i] = i;
          for (let k = k0; k < k1; k++) radius = Math.max(radius, Math.hypot(P[2 * k] - cx[i], P[2 * k + 1] - cy[i]));
          if (i < 64) edge += Math.hypot(P[2 * k0] - cx[i], P[2 * k0 + 1] - cy[i]);
        }
        edge = n ? edge / Math.min(n, 64) : 1;
        // Blind-spot cluster of each cell per category (-1: none): numbers are listed for member cells only.
        const cluster = [];
        if (level.full) {
          UI.categories.forEach(function (_, c) {
            const e = ds.col['e' + c], b = ds.col['b' + c], out = new Int32Array(n).fill(-1);
            if (e) for (let i = 0, k = 0; i < n; i++) if (e[i] & 0x8000) out[i] = b[k++];
            cluster.push(out);
          });
        }
        return {level: level, ds: ds, off: rings.off, q: rings.q, P: P, cx: cx, cy: cy, radius: radius,
                cluster: cluster, index: pointIndex(cx, cy, ids, 4 * edge)};
      });
    }
    return cellLevels[level.dataset];
  }

  const centreLat = (LAYERS.view.bounds[0][0] + LAYERS.view.bounds[1][0]) / 2;
  // The finest level whose mean edge is at least UI.min_edge_px pixels at zoom z (levels come finest first).
  function levelFor(z) {
    const metresPerPixel = 156543.03392804097 * Math.cos(centreLat * Math.PI / 180) / Math.pow(2, z);
    for (const lv of UI.levels) if (lv.edge_m / metresPerPixel >= UI.min_edge_px) return lv;
    return UI.levels[UI.levels.length - 1];
  }

  let facilityTable = null;
  function facilities() {
    if (!facilityTable) {
      facilityTable = dataset('facilities').then(function (ds) {
        const n = ds.n, px = new Float64Array(n), py = new Float64Array(n);
        for (let i = 0; i < n; i++) { px[i] = mercX(ds.col.x[i] * 1e-5); py[i] = mercY(ds.col.y[i] * 1e-5); }
        const byCat = UI.categories.map(function (_, c) {
          const ids = [];
          for (let i = 0; i < n; i++) if (ds.col.cat[i] === c) ids.push(i);
          return {ids: Uint32Array.from(ids), index: pointIndex(px, py, Uint32Array.from(ids), 0.0005)};
        });
        const care = new Map();
        const careText = ds.col.care_row.length ? ds.text('care_text') : [];
        for (let k = 0; k < ds.col.care_row.length; k++) care.set(ds.col.care_row[k], careText[k]);
        return {ds: ds, px: px, py: py, byCat: byCat, care: care};
      });
    }
    return facilityTable;
  }

  const polygonTables = {};
  function polygons(name) {
    if (!polygonTables[name]) {
      polygonTables[name] = dataset(name).then(function (ds) {
        const rings = decodeRings(ds.col.nv, ds.col.vx, ds.col.vy, false);
        const P = projectQ(rings.q);
        return {ds: ds, off: rings.off, q: rings.q, P: P, feature: ds.col.rf, index: ringIndex(P, rings.off)};
      });
    }
    return polygonTables[name];
  }

  // ------------------------------------------------------------------ formatting

  function fmtInt(v) { return Math.round(v).toLocaleString('en-US'); }
  function fmtTenths(v) { return (v / 10).toFixed(1); }
  function walkText(t) { return t === UNREACHABLE ? TXT.none_reachable : fmtTenths(t) + ' ' + TXT.minutes; }
  function hundredthsText(h, share) {  // maps.value_text of a value stored in hundredths
    if (Number.isNaN(h)) return '–';
    if (share) return h.toFixed(0) + '%';
    return (h / 100).toLocaleString('en-US', {minimumFractionDigits: 2, maximumFractionDigits: 2});
  }
  function gFormat(v) {  // Python's "{:g}"
    if (v === 0) return '0';
    const e = Math.floor(Math.log10(Math.abs(v)));
    if (e < -4 || e >= 6) return v.toExponential(5).replace(/\.?0+e/, 'e').replace(/e([+-])(\d)$/, 'e$10$2');
    return String(Number(v.toPrecision(6)));
  }
  // A catalogue text (UI.text, servicecircle/texts.py) with its {placeholders} filled from `values`.
  function fmt(key, values) {
    return TXT[key].replace(/\{(\w+)\}/g, function (_, name) { return String(values[name]); });
  }
  function h3Text(ds, i) { return ds.col.hhi[i].toString(16) + ds.col.hlo[i].toString(16).padStart(8, '0'); }

  // ------------------------------------------------------------------ drawing

  // Canvas tiles of 512 px: a quarter of the canvases of 256 px tiles, for the same pixels drawn.
  const CANVAS = 512;
  function tileFrame(coords) {
    const scale = Math.pow(2, coords.z);
    return {scale: scale, ox: coords.x * CANVAS, oy: coords.y * CANVAS};
  }

  function ringPath(ctx, P, k0, k1, f) {
    ctx.moveTo(P[2 * k0] * f.scale - f.ox, P[2 * k0 + 1] * f.scale - f.oy);
    for (let k = k0 + 1; k < k1; k++) ctx.lineTo(P[2 * k] * f.scale - f.ox, P[2 * k + 1] * f.scale - f.oy);
    ctx.closePath();
  }

  function visibleCells(lv, f, padPx, fn) {
    const pad = lv.radius + padPx / f.scale;
    lv.index.query(f.ox / f.scale - pad, f.oy / f.scale - pad, (f.ox + CANVAS) / f.scale + pad,
                   (f.oy + CANVAS) / f.scale + pad, fn);
  }

  function fillGroups(ctx, lv, f, groups, styles) {
    Array.from(groups.keys()).sort(function (a, b) { return a - b; }).forEach(function (key) {  // a fixed order
      const cells = groups.get(key), s = styles(key);
      ctx.beginPath();
      for (const i of cells) ringPath(ctx, lv.P, lv.off[i], lv.off[i + 1], f);
      ctx.globalAlpha = s.alpha;
      ctx.fillStyle = s.fill;
      ctx.fill();
      if (s.stroke) {
        ctx.globalAlpha = 1;
        ctx.lineWidth = s.width;
        ctx.strokeStyle = s.stroke;
        ctx.stroke();
      }
    });
    ctx.globalAlpha = 1;
  }

  function countDrawn(lv, k) {
    if (lv.level.full) stats.cellsDrawn += k; else stats.parentsDrawn += k;
    if (k && stats.firstCellsMs === null) {
      stats.firstCellsMs = performance.now();
      performance.mark('servicecircle-first-cells');
    }
  }

  const SHARE_COLOURS = ['#1a9850', '#fee08b', '#d7191c'];
  function shareStyle(perMille) { return perMille >= 900 ? 0 : (perMille >= 600 ? 1 : 2); }

  async function drawWalk(ctx, coords, c) {
    const lv = await cellLevel(levelFor(coords.z));
    const f = tileFrame(coords), k = lv.ds.col['k' + c];
    const groups = new Map(), gaps = [];
    let drawn = 0;
    visibleCells(lv, f, 2, function (i) {
      const cls = k[i] & 15;
      if (!groups.has(cls)) groups.set(cls, []);
      groups.get(cls).push(i);
      if (k[i] & 16) gaps.push(i);
      drawn++;
    });
    fillGroups(ctx, lv, f, groups, function (cls) {
      const colour = UI.classes[cls].colour;
      return {fill: colour, alpha: 0.6, stroke: colour, width: 0.3};
    });
    if (gaps.length) {
      ctx.beginPath();
      for (const i of gaps) ringPath(ctx, lv.P, lv.off[i], lv.off[i + 1], f);
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = '#67000d';
      ctx.stroke();
    }
    countDrawn(lv, drawn);
  }

  async function drawComplete(ctx, coords) {
    const lv = await cellLevel(levelFor(coords.z));
    const f = tileFrame(coords), share = lv.ds.col.cmp;
    const groups = new Map();
    let drawn = 0;
    visibleCells(lv, f, 1, function (i) {
      const s = lv.level.full ? (share[i] >= 1000 ? 0 : 2) : shareStyle(share[i]);
      if (!groups.has(s)) groups.set(s, []);
      groups.get(s).push(i);
      drawn++;
    });
    fillGroups(ctx, lv, f, groups, function (s) { return {fill: SHARE_COLOURS[s], alpha: 0.5, stroke: '#333', width: 0.3}; });
    countDrawn(lv, drawn);
  }

  async function drawBlind(ctx, coords, c) {
    const lv = await cellLevel(levelFor(coords.z));
    const f = tileFrame(coords), col = lv.ds.col;
    let drawn = 0;
    if (lv.level.full) {
      const cluster = lv.cluster[c], edges = col['e' + c], members = [];
      visibleCells(lv, f, 3, function (i) { if (cluster[i] >= 0) members.push(i); });
      const groups = new Map([[0, members]]);
      fillGroups(ctx, lv, f, groups, function () { return {fill: '#d7191c', alpha: 0.25}; });
      // The cluster's outline: the cell edges no other cell of the cluster shares.
      ctx.beginPath();
      for (const i of members) {
        const k0 = lv.off[i], n = lv.off[i + 1] - k0, mask = edges[i];
        for (let j = 0; j < n; j++) {
          if (!(mask & (1 << j))) continue;
          const a = k0 + j, b = k0 + (j + 1) % n;
          ctx.moveTo(lv.P[2 * a] * f.scale - f.ox, lv.P[2 * a + 1] * f.scale - f.oy);
          ctx.lineTo(lv.P[2 * b] * f.scale - f.ox, lv.P[2 * b + 1] * f.scale - f.oy);
        }
      }
      ctx.setLineDash([5, 5]);
      ctx.lineWidth = 2;
      ctx.strokeStyle = '#67000d';
      ctx.stroke();
      ctx.setLineDash([]);
      drawn = members.length;
    } else {
      const covered = col['c' + c], groups = new Map();
      visibleCells(lv, f, 1, function (i) {
        const outside = 1000 - covered[i];
        if (outside <= 0) return;
        const level = Math.min(4, Math.floor(outside / 200));
        if (!groups.has(level)) groups.set(level, []);
        groups.get(level).push(i);
        drawn++;
      });
      fillGroups(ctx, lv, f, groups, function (level) { return {fill: '#d7191c', alpha: 0.15 + 0.12 * level}; });
    }
    countDrawn(lv, drawn);
  }

  function facilityRadius(z) { return z >= 14 ? 6 : z >= 12 ? 4.5 : z >= 10 ? 3 : 2; }

  // All facility categories share one canvas (one tile set, not one per category); the layer
  // control's facility entries switch categories of it on and off.
  const facilityOn = new Set();

  async function drawFacilities(ctx, coords) {
    const F = await facilities();
    const f = tileFrame(coords), r = facilityRadius(coords.z), pad = (r + 2) / f.scale;
    const flags = F.ds.col.flags, small = coords.z < 12;
    for (let c = 0; c < UI.categories.length; c++) {  // later categories on top, as the layer list orders them
      if (!facilityOn.has(c)) continue;
      const colour = UI.categories[c].colour, hits = [];
      F.byCat[c].index.query(f.ox / f.scale - pad, f.oy / f.scale - pad, (f.ox + CANVAS) / f.scale + pad,
                             (f.oy + CANVAS) / f.scale + pad, function (i) { hits.push(i); });
      hits.sort(function (a, b) { return a - b; });  // the same order in every tile: overlaps look the same
      // One path per style (counted or not × on the network or not): a fill and a stroke per style, not per marker.
      for (let style = 0; style < 4; style++) {
        const counted = style & 1, off = style & 2;
        ctx.beginPath();
        let any = false;
        for (const i of hits) {
          if ((flags[i] & 3) !== style) continue;
          const x = F.px[i] * f.scale - f.ox, y = F.py[i] * f.scale - f.oy;
          if (small) ctx.rect(x - r, y - r, 2 * r, 2 * r);  // a few pixels wide: a square looks the same, draws faster
          else { ctx.moveTo(x + r, y); ctx.arc(x, y, r, 0, 2 * Math.PI); }
          any = true;
        }
        if (!any) continue;
        ctx.globalAlpha = counted ? 0.9 : 0.1;
        ctx.fillStyle = colour;
        ctx.fill();
        ctx.globalAlpha = 1;
        ctx.lineWidth = small ? 1 : 2;
        ctx.strokeStyle = counted && !off ? colour : '#777';
        ctx.stroke();
      }
      stats.facilitiesDrawn += hits.length;
    }
  }

  async function drawPolygons(ctx, coords, name, style) {
    const T = await polygons(name);
    const f = tileFrame(coords), pad = 2 / f.scale, minSize = 0.5 / f.scale;
    const groups = new Map();
    T.index.query(f.ox / f.scale - pad, f.oy / f.scale - pad, (f.ox + CANVAS) / f.scale + pad,
                  (f.oy + CANVAS) / f.scale + pad, function (r) {
      const b = T.index.box;
      if (b[4 * r + 2] - b[4 * r] < minSize && b[4 * r + 3] - b[4 * r + 1] < minSize) return;  // under a pixel
      const key = style.key(T, T.feature[r]);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(r);
    });
    Array.from(groups.keys()).sort(function (a, b) { return a - b; }).forEach(function (key) {  // a fixed order
      const rings = groups.get(key), s = style.style(key);
      ctx.beginPath();
      for (const r of rings) ringPath(ctx, T.P, T.off[r], T.off[r + 1], f);
      if (s.alpha > 0) {
        ctx.globalAlpha = s.alpha;
        ctx.fillStyle = s.fill;
        ctx.fill('nonzero');  // exteriors turn one way, holes the other (maps._polygon_rings)
        ctx.globalAlpha = 1;
      }
      ctx.setLineDash(s.dash || []);
      ctx.lineWidth = s.width;
      ctx.strokeStyle = s.stroke;
      ctx.stroke();
      ctx.setLineDash([]);
      stats.polygonsDrawn += rings.length;
    });
  }

  // Outlines of the study area, streets and communities, with names: context that needs no tiles.
  const OUTLINE_STYLES = {
    district: {stroke: '#111', width: 2.5, font: 'bold 16px sans-serif', colour: '#111'},
    street: {stroke: '#333', width: 1.6, dash: [6, 3], font: 'bold 13px sans-serif', colour: '#222'},
    community: {stroke: '#666', width: 0.7, font: '11px sans-serif', colour: '#444'}
  };
  const LABEL_REACH_PX = 200;  // half the widest name drawn: a tile draws the names anchored this far outside it
  function plainText(s) {  // the tables' strings are HTML-escaped (maps.py); a canvas draws text as it is
    return s.replace(/&(lt|gt|quot|#x27|amp);/g, function (_, e) {
      return {lt: '<', gt: '>', quot: '"', '#x27': "'", amp: '&'}[e];
    });
  }
  const labelTables = {};
  function labels(name) {
    if (!labelTables[name]) {
      labelTables[name] = dataset(name).then(function (ds) {
        const n = ds.n, x = new Float64Array(n), y = new Float64Array(n), ids = new Uint32Array(n);
        for (let i = 0; i < n; i++) { x[i] = mercX(ds.col.lx[i] * 1e-5); y[i] = mercY(ds.col.ly[i] * 1e-5); ids[i] = i; }
        return {ds: ds, x: x, y: y, index: pointIndex(x, y, ids, 1e-4)};
      });
    }
    return labelTables[name];
  }
  async function drawOutlines(ctx, coords, spec) {
    const s = OUTLINE_STYLES[spec.level];
    await drawPolygons(ctx, coords, spec.dataset, {key: function () { return 0; }, style: function () {
      return {fill: '#000', alpha: 0, stroke: s.stroke, width: s.width, dash: s.dash};
    }});
    const T = await labels(spec.dataset), f = tileFrame(coords), reach = LABEL_REACH_PX / f.scale;
    const hits = [];
    T.index.query(f.ox / f.scale - reach, f.oy / f.scale - reach, (f.ox + CANVAS) / f.scale + reach,
                  (f.oy + CANVAS) / f.scale + reach, function (i) { hits.push(i); });
    hits.sort(function (a, b) { return a - b; });
    const names = T.ds.text('name');
    ctx.font = s.font;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.lineJoin = 'round';
    const perUnit = 1e-5 / 360 * TILE * f.scale;  // screen pixels per displayed 1e-5° of longitude
    for (const i of hits) {
      const name = plainText(names[i] || '');
      if (!name) continue;
      const width = ctx.measureText(name).width;
      // A name shows only where its feature is wide and tall enough on screen: the same rule in every
      // tile, so a name cut by a tile edge is completed by the next tile.
      if (T.ds.col.ew[i] * perUnit < width + 8 || T.ds.col.eh[i] * perUnit * 1.3 < 18) continue;
      const px = T.x[i] * f.scale - f.ox, py = T.y[i] * f.scale - f.oy;
      ctx.lineWidth = 3;
      ctx.strokeStyle = 'rgba(255,255,255,0.85)';
      ctx.strokeText(name, px, py);
      ctx.fillStyle = s.colour;
      ctx.fillText(name, px, py);
      stats.labelsDrawn++;
    }
  }

  const CanvasLayer = L.GridLayer.extend({
    options: {updateWhenZooming: false, tileSize: CANVAS},
    createTile: function (coords, done) {
      const tile = L.DomUtil.create('canvas', 'leaflet-tile');
      const size = this.getTileSize(), ratio = window.devicePixelRatio || 1;
      tile.width = size.x * ratio; tile.height = size.y * ratio;
      tile.style.width = size.x + 'px'; tile.style.height = size.y + 'px';
      const ctx = tile.getContext('2d');
      ctx.scale(ratio, ratio);
      this.options.draw(ctx, coords).then(function () { stats.tiles++; done(null, tile); }, function (err) {
        console.error('servicecircle map: ' + (err && err.stack || err));
        done(err, tile);
      });
      return tile;
    }
  });

  // ------------------------------------------------------------------ popups

  function cellSection(lv, i) {
    const ds = lv.ds, col = ds.col;
    const parts = [];
    if (lv.level.full) {
      parts.push('<b>' + TXT.cell + ' ' + h3Text(ds, i) + '</b>');
      parts.push(TXT.residents + ': ' + fmtInt(col.res[i]));
      if (col.fb && col.fb[i] > 0) parts.push(fmt('fallback_cell', {n: fmtInt(col.fb[i])}));
      return facilities().then(function (F) {
        UI.categories.forEach(function (cat, c) {
          const near = col['f' + c][i];
          parts.push(cat.label + ': ' + walkText(col['w' + c][i]) + (near >= 0 ? ' — ' + F.ds.text('label')[near] : ''));
        });
        parts.push(UI.complete_label + ': ' + (col.cmp[i] >= 1000 ? TXT.complete_yes : TXT.complete_no));
        return parts.join('<br>');
      });
    }
    parts.push('<b>' + lv.level.label + '</b>');
    parts.push(TXT.cell + ' ' + h3Text(ds, i));
    parts.push(TXT.residents + ': ' + fmtInt(col.res[i]));
    UI.categories.forEach(function (cat, c) {
      parts.push(cat.label + ': ' + TXT.median + ' ' + walkText(col['w' + c][i]) + '; ' + UI.within + ' ' +
                 fmtTenths(col['c' + c][i]) + '%');
    });
    parts.push(TXT.complete_share + ': ' + fmtTenths(col.cmp[i]) + '%');
    return Promise.resolve(parts.join('<br>'));
  }

  function facilitySection(F, i) {
    const ds = F.ds, col = ds.col, js = ds.json;
    const cat = UI.categories[col.cat[i]];
    const named = col.flags[i] & 4;
    const source = col.source[i] >= 0 ? js.source[col.source[i]] : '';
    const where = [];
    if (!Number.isNaN(col.osm_id[i])) where.push('OSM ' + (col.osm_type[i] >= 0 ? js.osm_type[col.osm_type[i]] : '') +
                                                 '/' + String(col.osm_id[i]));
    if (!Number.isNaN(col.registry_row[i])) {
      where.push(fmt('registry_row', {file: col.registry_file[i] >= 0 ? js.registry_file[col.registry_file[i]] : '',
                                      row: col.registry_row[i]}));
    }
    const lines = ['<b>' + (named ? ds.text('label')[i] : TXT.unnamed) + '</b>', cat.label + ' (' + cat.key + ')',
                   TXT.source + ': ' + source + ' (' + where.join(', ') + ')'];
    UI.facility_fields.forEach(function (field) {
      const key = 'p' + field[0], v = col[key][i];
      if (field[1] === 'number') {
        if (Number.isFinite(v)) lines.push(UI.popup_fields[field[0]] + ': ' + gFormat(v));
      } else if (v >= 0) {
        lines.push(UI.popup_fields[field[0]] + ': ' + js[key][v]);
      }
    });
    if (col.affordable && col.affordable[i] >= 0) lines.push(fmt('affordable', {answer: col.affordable[i] ? TXT.yes : TXT.no}));
    const off = col.flags[i] & 2, counted = col.flags[i] & 1;
    lines.push(off ? TXT.off_network : counted ? TXT.counted :
               TXT.not_counted + ': ' + (col.flag_note[i] >= 0 ? js.flag_note[col.flag_note[i]] : ''));
    if (F.care.has(i)) lines.push(F.care.get(i));
    return lines.join('<br>');
  }

  function blindSection(c, row, T, F) {
    const col = T.col, cat = UI.categories[c];
    const walk = col.walk[row];
    return '<b>' + TXT.blind_spot + ' #' + col.rank[row] + '</b> — ' + cat.label + ' (' + cat.key + ')' +
      '<table class="sc-row">' +
      '<tr><td>' + TXT.blind_cells + '</td><td>' + col.cells[row] + '</td></tr>' +
      '<tr><td>' + TXT.blind_residents + '</td><td>' + fmtInt(col.res[row]) + '</td></tr>' +
      (col.fb && col.fb[row] > 0 ? '<tr><td>' + TXT.fallback_blind + '</td><td>' + fmtInt(col.fb[row]) + '</td></tr>' : '') +
      '<tr><td>' + TXT.blind_demand_residents + '</td><td>' + fmtInt(col.dres[row]) + '</td></tr>' +
      '<tr><td>' + TXT.blind_demand + '</td><td>' + (col.demand[row] >= 0 ? T.json.demand[col.demand[row]] : '') +
      '</td></tr>' +
      '<tr><td>' + TXT.blind_walk + '</td><td>' +
      (walk === UNREACHABLE ? TXT.blind_unreachable : fmtTenths(walk)) + '</td></tr>' +
      '<tr><td>' + TXT.blind_nearest + '</td><td>' + (col.near_row[row] >= 0 ? F.ds.text('label')[col.near_row[row]] :
                                                       T.text('near')[row]) + '</td></tr>' +
      '<tr><td>' + TXT.blind_communities + '</td><td>' + T.text('communities')[row] + '</td></tr></table>';
  }

  async function scorecardRows(rows, withUnit) {
    const S = await dataset('scorecard');
    const C = withUnit ? await dataset('communities') : null;
    const col = S.col, gaps = S.text('gaps');
    return rows.map(function (r) {
      const g = UI.goals[col.g[r]];
      const p = col.p[r];
      const u = col.u[r];
      return {
        unit: u >= 0 ? (C ? C.text('name')[u] : '') : UI.units[-u - 1], goal: g, passed: p,
        mark: p === 1 ? '✔' : p === 0 ? '✘' : TXT.not_assessed, value: col.v[r], target: col.t[r],
        valueText: hundredthsText(col.v[r], g.share), targetText: hundredthsText(col.t[r], g.share),
        gap: col.x[r] >= 0 ? gaps[col.x[r]] : ''
      };
    });
  }

  async function communitySection(T, feature) {
    const col = T.ds.col;
    let body = TXT.no_scorecard;
    if (DATA.datasets.scorecard) {
      const S = await dataset('scorecard');
      if (S.col.coff) {
        const a = S.col.coff[feature], b = S.col.coff[feature + 1];
        const rows = await scorecardRows(Array.from(S.col.crow.subarray(a, b)), false);
        if (rows.length) {
          body = '<table class="sc-row">' + rows.map(function (r) {
            return '<tr><td>' + r.mark + '</td><td>' + r.goal.name + '</td><td>' + r.goal.short + '</td><td>' +
              r.valueText + '</td><td>' + r.targetText + '</td><td>' + r.gap + '</td></tr>';
          }).join('') + '</table>';
        }
      }
    }
    return '<b>' + T.ds.text('name')[feature] + '</b><br>' + TXT.residents + ': ' + fmtInt(col.res[feature]) + '<br>' +
      UI.complete_label + ': ' + fmtTenths(col.pct[feature]) + '%<br><b>' + TXT.scorecard + '</b>' + body;
  }

  function hitCell(lv, x, y) {
    let found = -1;
    lv.index.query(x - lv.radius, y - lv.radius, x + lv.radius, y + lv.radius, function (i) {
      if (found < 0 && inRing(lv.P, lv.off[i], lv.off[i + 1], x, y)) found = i;
    });
    return found;
  }

  function hitFeature(T, x, y) {
    const parity = new Map();
    T.index.query(x, y, x, y, function (r) {
      if (inRing(T.P, T.off[r], T.off[r + 1], x, y)) {
        const f = T.feature[r];
        parity.set(f, (parity.get(f) || 0) ^ 1);
      }
    });
    let found = -1;
    parity.forEach(function (odd, f) { if (odd && (found < 0 || f < found)) found = f; });
    return found;
  }

  async function hitFacility(x, y, z) {
    const F = await facilities();
    const scale = Math.pow(2, z), reach = (facilityRadius(z) + 3) / scale;
    let best = -1, bestD = Infinity;
    entries.forEach(function (e) {
      if (e.kind !== 'facilities' || !map.hasLayer(e.leaflet)) return;
      F.byCat[e.category].index.query(x - reach, y - reach, x + reach, y + reach, function (i) {
        const d = Math.hypot(F.px[i] - x, F.py[i] - y);
        if (d <= reach && (d < bestD || (d === bestD && i < best))) { best = i; bestD = d; }
      });
    });
    return {F: F, i: best};
  }

  async function popupAt(latlng) {
    const z = map.getZoom(), x = mercX(latlng.lng), y = mercY(latlng.lat);
    const fac = await hitFacility(x, y, z);
    if (fac.i >= 0) return facilitySection(fac.F, fac.i);
    const sections = [];
    const shown = entries.filter(function (e) { return map.hasLayer(e.leaflet); });
    const lv = await cellLevel(levelFor(z));
    const cell = hitCell(lv, x, y);
    for (const e of shown.filter(function (e) { return e.kind === 'blind'; })) {
      if (cell < 0) break;
      if (lv.level.full) {
        const row = lv.cluster[e.category][cell];
        if (row >= 0) sections.push(blindSection(e.category, row, await dataset('blind'), await facilities()));
      }
    }
    if (cell >= 0 && shown.some(function (e) { return e.kind === 'walk' || e.kind === 'complete' || e.kind === 'blind'; })) {
      sections.push(await cellSection(lv, cell));
    }
    if (shown.some(function (e) { return e.kind === 'communities'; })) {
      const T = await polygons('communities');
      const feature = hitFeature(T, x, y);
      if (feature >= 0) sections.push(await communitySection(T, feature));
    }
    return sections.length ? sections.join('<hr>') : null;
  }

  // ------------------------------------------------------------------ the map

  const map = L.map('servicecircle-map', {zoomControl: true});
  map.fitBounds(LAYERS.view.bounds);  // before any layer: tiles are made once, at the final zoom
  L.control.scale().addTo(map);
  if (UI.tiles) {
    const t = UI.tiles;
    const options = {attribution: t.attribution, maxZoom: 19};
    if (t.subdomains) options.subdomains = t.subdomains;
    L.tileLayer(t.url, options).addTo(map);
  }
  [['sc-areas', 410], ['sc-cells', 420], ['sc-communities', 430], ['sc-blind', 440], ['sc-outlines', 445],
   ['sc-facilities', 450]]
    .forEach(function (p) { map.createPane(p[0]).style.zIndex = p[1]; });

  const PANE = {walk: 'sc-cells', complete: 'sc-cells', area: 'sc-areas', facilities: 'sc-facilities',
                communities: 'sc-communities', blind: 'sc-blind', outline: 'sc-outlines', proposed: 'sc-facilities'};

  let starting = true;  // while the first layers are added, the shared facility canvas has not drawn yet
  let facilityCanvas = null;
  const FacilityToggle = L.Layer.extend({
    initialize: function (category) { this.category = category; },
    onAdd: function (m) {
      facilityOn.add(this.category);
      if (!facilityCanvas) facilityCanvas = new CanvasLayer({pane: 'sc-facilities', draw: drawFacilities});
      if (!m.hasLayer(facilityCanvas)) facilityCanvas.addTo(m);
      else if (!starting) facilityCanvas.redraw();
    },
    onRemove: function (m) {
      facilityOn.delete(this.category);
      if (!facilityOn.size) m.removeLayer(facilityCanvas);
      else facilityCanvas.redraw();
    }
  });

  function makeLayer(spec) {
    const pane = PANE[spec.kind];
    const grid = function (draw) { return new CanvasLayer({pane: pane, draw: draw}); };
    if (spec.kind === 'walk') return grid(function (ctx, coords) { return drawWalk(ctx, coords, spec.category); });
    if (spec.kind === 'complete') return grid(drawComplete);
    if (spec.kind === 'blind') return grid(function (ctx, coords) { return drawBlind(ctx, coords, spec.category); });
    if (spec.kind === 'facilities') return new FacilityToggle(spec.category);
    if (spec.kind === 'area') {
      const colour = UI.categories[spec.category].colour;
      if (!spec.dataset) return L.layerGroup();
      return grid(function (ctx, coords) {
        return drawPolygons(ctx, coords, spec.dataset, {key: function () { return 0; }, style: function () {
          return {fill: colour, alpha: 0.15, stroke: colour, width: 1};
        }});
      });
    }
    if (spec.kind === 'communities') {
      return grid(function (ctx, coords) {
        return drawPolygons(ctx, coords, spec.dataset, {key: function (T, f) { return T.ds.col.style[f]; },
          style: function (s) { return {fill: SHARE_COLOURS[s], alpha: 0.35, stroke: '#222', width: 1}; }});
      });
    }
    if (spec.kind === 'outline') return grid(function (ctx, coords) { return drawOutlines(ctx, coords, spec); });
    if (spec.kind === 'proposed') return proposedLayer(spec);
    throw new Error('unknown layer kind ' + spec.kind);
  }

  function proposedLayer(spec) {
    const group = L.layerGroup();
    if (spec.areas) {
      group.addLayer(new CanvasLayer({pane: 'sc-areas', draw: function (ctx, coords) {
        return drawPolygons(ctx, coords, spec.areas, {key: function () { return 0; }, style: function () {
          return {fill: '#7b3294', alpha: 0.12, stroke: '#7b3294', width: 1, dash: [4, 4]};
        }});
      }}));
    }
    dataset(spec.dataset).then(function (ds) {
      const col = ds.col;
      for (let i = 0; i < ds.n; i++) {
        const icon = L.divIcon({className: '', iconSize: [18, 18], html: '<div class="sc-proposed">' + col.rank[i] + '</div>'});
        const text = '<b>' + fmt('proposed_site', {rank: col.rank[i]}) + '</b><br>' + spec.category_name + '<br>' +
          'WGS-84 ' + col.lon[i].toFixed(6) + ', ' + col.lat[i].toFixed(6) + '<br>' +
          'GCJ-02 ' + col.glon[i].toFixed(6) + ', ' + col.glat[i].toFixed(6) + '<br>' +
          (ds.text('where')[i] ? ds.text('where')[i] + '<br>' : '') +
          fmt('proposed_gain', {gain: fmtInt(col.gain[i]), weight: spec.weight}) + '<br>' +
          fmt('proposed_after', {share: (col.after[i] * 100).toFixed(1)});
        L.marker([col.y[i] * 1e-5, col.x[i] * 1e-5], {icon: icon}).bindPopup(text, {maxWidth: 260})
          .bindTooltip(ds.json.tooltip[i]).addTo(group);
      }
    });
    return group;
  }

  const entries = LAYERS.layers.map(function (spec) {
    return Object.assign({}, spec, {leaflet: makeLayer(spec)});
  });
  const overlays = {};
  entries.forEach(function (e) {
    overlays[e.label] = e.leaflet;
    if (e.show) e.leaflet.addTo(map);
  });
  starting = false;
  L.control.layers(null, overlays, {collapsed: false}).addTo(map);

  map.on('click', function (ev) {
    popupAt(ev.latlng).then(function (html) {
      if (html === null) return;
      L.popup({maxWidth: 520}).setLatLng(ev.latlng).setContent('<div class="sc-popup">' + html + '</div>').openOn(map);
    }, function (err) { console.error('servicecircle map: ' + (err && err.stack || err)); });
  });

  // Hovering a facility shows its name.
  const hover = L.tooltip({direction: 'top', offset: [0, -6]});
  let hoverPending = false;
  map.on('mousemove', function (ev) {
    if (hoverPending || !facilityTable) return;
    hoverPending = true;
    hitFacility(mercX(ev.latlng.lng), mercY(ev.latlng.lat), map.getZoom()).then(function (hit) {
      hoverPending = false;
      map.getContainer().style.cursor = hit.i >= 0 ? 'pointer' : '';
      if (hit.i >= 0) hover.setLatLng([hit.F.ds.col.y[hit.i] * 1e-5, hit.F.ds.col.x[hit.i] * 1e-5])
        .setContent(hit.F.ds.text('label')[hit.i]).openOn(map);
      else if (map.hasLayer(hover)) map.removeLayer(hover);
    });
  });

  // ------------------------------------------------------------------ the scorecard panel

  const panel = document.getElementById('servicecircle-scorecard');
  if (panel && UI.panel) {
    const details = panel.querySelector('details');
    let built = false;
    details.addEventListener('toggle', function () {
      if (!details.open || built) return;
      built = true;
      buildPanel().catch(function (err) { console.error('servicecircle map: ' + (err && err.stack || err)); });
    });
  }

  async function buildPanel() {
    const S = await dataset('scorecard');
    const body = document.getElementById('servicecircle-scorecard-body');
    const head = '<tr>' + ['unit', 'goal', 'kind', 'meaning', 'value', 'target', 'passed', 'gap'].map(function (h) {
      return '<th>' + TXT['col_' + h] + '</th>';
    }).join('') + '</tr>';
    const html = [];
    for (const section of UI.panel) {
      const rows = await scorecardRows(Array.from(S.col.panel.subarray(section.start, section.start + section.count)),
                                       DATA.datasets.communities !== undefined);
      const trs = rows.map(function (r) {
        const colour = r.passed === 1 ? '#1a9850' : r.passed === 0 ? '#d7191c' : '#777';
        const v = Number.isNaN(r.value) ? '' : String(r.value / 100);
        return '<tr><td>' + r.unit + '</td><td>' + r.goal.name + '</td><td>' + r.goal.kind + '</td><td>' + r.goal.meaning +
          '</td><td data-v="' + v + '">' + r.valueText + '</td><td>' + r.targetText + '</td><td style="color:' + colour +
          '">' + r.mark + '</td><td>' + r.gap + '</td></tr>';
      }).join('');
      html.push('<details' + (section.open ? ' open' : '') + '><summary>' + section.summary + '</summary>' +
                '<table class="sc-table"><thead>' + head + '</thead><tbody>' + trs + '</tbody></table>' +
                (section.more ? '<div>' + section.more + '</div>' : '') + '</details>');
    }
    body.innerHTML = html.join('');
  }

  // ------------------------------------------------------------------ for tests and benchmarks

  const drawing = entries.filter(function (e) { return e.show && e.leaflet instanceof L.GridLayer; })
    .map(function (e) { return e.leaflet; });
  if (facilityCanvas && map.hasLayer(facilityCanvas)) drawing.push(facilityCanvas);
  const firstDraw = Promise.all(drawing.map(function (layer) {
    return new Promise(function (resolve) {
      layer.once('load', function () { stats.layerDrawnMs.push(Math.round(performance.now())); resolve(); });
    });
  }));
  window.servicecircleMap = {
    map: map, layers: entries, stats: stats, ready: firstDraw, dataset: dataset, cellLevel: cellLevel,
    levelFor: levelFor, facilities: facilities, popupAt: popupAt,
    polygonRings: async function (name) {
      const T = await polygons(name);
      return {off: Array.from(T.off), q: Array.from(T.q), feature: Array.from(T.feature)};
    },
    cellGeometry: async function (levelIndex) {
      const lv = await cellLevel(UI.levels[levelIndex]);
      const ids = [];
      for (let i = 0; i < lv.ds.n; i++) ids.push(h3Text(lv.ds, i));
      return {h3: ids, off: Array.from(lv.off), q: Array.from(lv.q)};
    }
  };
})();
