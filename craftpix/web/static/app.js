// craftpix web app: plain JavaScript, no framework, no network beyond this server.
// Every action is one call to the JSON API (see craftpix/web/app.py); the server keeps the
// pattern and its undo history, this page only draws what it gets back.
"use strict";

const $ = (id) => document.getElementById(id);
let OPTIONS = null;       // GET /api/options
let STATE = null;         // the current pattern (GET /api/pattern and every edit)
let hasPhoto = false;
let selected = null;      // legend code the color panel is about (and the paint color)
let zoom = 0;             // chart cell size in CSS px; 0 = fit to the width
let catalog = null;       // colors the pattern may take: {version, colors}
let makeSeq = 0;          // only the latest "make" applies
let autoTimer = null;
let job = null;           // the prompt job being watched
let lastMade = null;      // the form values of the last "make" (unchanged: no remake)
let shownForm = null;     // the server's form of the pattern on screen (JSON)
let stroke = null;        // the paint stroke under way: {cells, seen, last, code, hex}
let drawn = 0;            // cell size the chart was last drawn at (CSS px)
const RULER_TOP = 18, RULER_LEFT = 30;  // the chart's number margins (CSS px)

// --- calls ----------------------------------------------------------------------------------
function showError(message) {
  const el = $("error");
  el.textContent = message || "";
  el.hidden = !message;
}

async function call(path, options = {}) {
  const init = { method: options.method || "GET", headers: {} };
  if (options.json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.json);
  } else if (options.form) {
    init.body = options.form;
  }
  const response = await fetch(path, init);
  const type = response.headers.get("Content-Type") || "";
  const body = type.includes("json") ? await response.json() : null;
  if (!response.ok) {
    const message = (body && body.error) || `${response.status} ${response.statusText}`;
    throw new Error(message);
  }
  return body;
}

async function guarded(work) {
  try {
    showError("");
    return await work();
  } catch (err) {
    showError(err.message);
    return null;
  }
}

// --- the form -------------------------------------------------------------------------------
function fillSelect(select, values, labels, selectedValue) {
  select.replaceChildren(...values.map((v, i) => {
    const o = document.createElement("option");
    o.value = v;
    o.textContent = labels ? labels[i] : v;
    if (String(v) === String(selectedValue)) o.selected = true;
    return o;
  }));
}

function craft() {
  return OPTIONS.crafts.find((c) => c.name === $("medium").value);
}

function onCraft() {
  const c = craft();
  fillSelect($("brand"), c.brands);
  fillSelect($("section"), c.sections.length ? c.sections : [""], c.sections.length ? null : ["—"]);
  fillSelect($("fabric-count"), c.fabric_counts.length ? c.fabric_counts : [""], null,
             c.default_fabric_count);
  for (const el of document.querySelectorAll("[data-for]")) {
    el.hidden = !el.dataset.for.split(" ").includes(c.name);
  }
  showFinished();
}

function showFinished() {
  const c = craft();
  if (!c) return;
  let pitch = c.pitch_mm;
  if (c.fabric_counts.length) pitch = 25.4 / Number($("fabric-count").value || c.default_fabric_count);
  if (c.name === "diamond") pitch = OPTIONS.drills[$("drill").value] || pitch;
  const w = Number($("width").value) * pitch / 10, h = Number($("height").value) * pitch / 10;
  if (!(w > 0 && h > 0)) {
    const one = (w > 0) !== (h > 0);
    $("finished").textContent = one ? `the ${w > 0 ? "height" : "width"} follows the photo` : "";
    return;
  }
  $("finished").textContent = `finished: ${w.toFixed(1)} × ${h.toFixed(1)} cm ` +
    `(${(w / 2.54).toFixed(1)} × ${(h / 2.54).toFixed(1)} in)`;
}

function number(id) {
  const v = $(id).value.trim();
  return v === "" ? null : Number(v);
}

function formValues() {
  const c = craft();
  return {
    medium: c.name,
    width: number("width"), height: number("height"),
    brand: $("palette-drop").hidden ? $("brand").value : null,
    palette: !$("palette-drop").hidden,
    colors: number("colors"),
    all_finishes: $("all-finishes").checked,
    fit: $("fit").value,
    smooth: Number($("smooth").value),
    dither: $("dither").checked,
    seed: number("seed") ?? 0,
    paper: $("paper").value,
    section: c.sections.length ? Number($("section").value) : null,
    fabric_count: c.fabric_counts.length ? Number($("fabric-count").value) : null,
    strands: c.name === "stitch" ? number("strands") : null,
    merge: c.name === "bricks" && $("merge").checked,
    part: c.name === "bricks" ? $("part").value : "plate",
    formats: c.name === "stitch" && $("formats").value.trim() ? $("formats").value.trim() : null,
    hoop: $("hoop").value.trim() || null,
    drill: c.name === "diamond" ? $("drill").value : null,
  };
}

// An opened pattern has no photo: a changed setting cannot remake it, and the page says so.
const REMAKE_NOTE = "This pattern was opened from a file: pick the photo again to remake it; " +
  "edits, convert and export work on the opened pattern.";

function remakeNote(show) {
  $("remake-note").textContent = show ? REMAKE_NOTE : "";
  $("remake-note").hidden = !show;
}

async function make(force = true) {
  if (!hasPhoto && STATE) { remakeNote(true); return; }
  if (!hasPhoto) { showError("pick a photo first (or make one from words below)"); return; }
  const values = formValues();
  const key = JSON.stringify(values);
  if (!force && key === lastMade) return;  // a blur without a change: keep the edits
  lastMade = key;
  const seq = ++makeSeq;
  $("busy").hidden = false;
  $("make-btn").disabled = true;
  try {
    showError("");
    const state = await call("/api/generate", { method: "POST", json: values });
    if (seq === makeSeq) show(state, true);
  } catch (err) {
    if (seq === makeSeq) showError(err.message);
  } finally {
    if (seq === makeSeq) { $("busy").hidden = true; $("make-btn").disabled = false; }
  }
}

function makeSoon() {
  clearTimeout(autoTimer);
  if (hasPhoto) autoTimer = setTimeout(() => make(false), 500);
  else if (STATE) remakeNote(true);
}

async function uploadPhoto(file) {
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  const info = await guarded(() => call("/api/image", { method: "POST", form }));
  $("photo").value = "";  // picking the same file again uploads it again
  if (!info) return;
  hasPhoto = true;
  remakeNote(false);
  const thumb = $("thumb");
  if (thumb.src) URL.revokeObjectURL(thumb.src);
  thumb.src = URL.createObjectURL(file);
  thumb.hidden = false;
  $("drop-text").textContent = `${info.name} · ${info.width}×${info.height} px — drop another to change`;
  await make();
}

// Continue with a saved pattern: its pattern.json, or the zip of the downloads. The form takes
// its settings; opening it is one step that Undo takes back.
async function openPattern(file) {
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  const state = await guarded(() => call("/api/pattern", { method: "POST", form }));
  $("open-file").value = "";
  if (!state) return;
  selected = null;
  hasPhoto = state.photo;
  show(state, true);
}

async function uploadPalette(file) {
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  const info = await guarded(() => call("/api/palette", { method: "POST", form }));
  $("palette-file").value = "";
  if (!info) return;
  $("palette-info").textContent = `${info.name}: ${info.colors} colors`;
  $("palette-drop").hidden = false;
  $("brand").disabled = true;
  makeSoon();
}

async function dropPalette() {
  await guarded(() => call("/api/palette", { method: "DELETE" }));
  $("palette-info").textContent = "";
  $("palette-drop").hidden = true;
  $("brand").disabled = false;
  makeSoon();
}

const FIELDS = { medium: "medium", width: "width", height: "height", colors: "colors",
                 fit: "fit", smooth: "smooth", seed: "seed", paper: "paper", section: "section",
                 fabric_count: "fabric-count", strands: "strands", part: "part",
                 formats: "formats", hoop: "hoop", drill: "drill" };
const CHECKS = { dither: "dither", all_finishes: "all-finishes", merge: "merge" };

function applyForm(form) {  // after a reload: the form shows what the pattern was made from
  if (!form || !form.medium) return;
  $("medium").value = form.medium;
  onCraft();
  if (form.brand) $("brand").value = form.brand;
  for (const [key, id] of Object.entries(FIELDS)) {
    if (key === "medium" || form[key] === undefined) continue;
    if (form[key] !== null) $(id).value = form[key];
    else if ($(id).type === "range") $(id).value = $(id).defaultValue;  // never the middle
    else if ($(id).tagName === "INPUT") $(id).value = "";  // e.g. a side that follows the photo
  }
  for (const [key, id] of Object.entries(CHECKS)) $(id).checked = Boolean(form[key]);
  $("smooth-out").textContent = $("smooth").value;
  showFinished();
  lastMade = JSON.stringify(formValues());
}

// --- showing a pattern ------------------------------------------------------------------------
function setNotes(notes) {  // one line each, as a list
  $("notes").replaceChildren(...notes.map((n) => {
    const li = document.createElement("li");
    li.textContent = n;
    return li;
  }));
}

// The form follows the pattern on screen: after an undo, a redo, a conversion or an opened
// file it shows the settings that pattern was made with (and its catalog).
function syncForm(state) {
  const key = JSON.stringify(state.form || {});
  if (state.form && state.form.medium && key !== shownForm) applyForm(state.form);
  shownForm = key;
  if ($("medium").value === state.medium && $("palette-drop").hidden &&
      [...$("brand").options].some((o) => o.value === state.brand)) {
    $("brand").value = state.brand;
    lastMade = JSON.stringify(formValues());
  }
}

const CELL_HINT = "Tap a color in the legend to swap, drop or paint with it.";

// `fresh`: a new pattern (made, opened, a prompt's): the cell info of the old one goes too,
// as it does whenever the grid or the craft changes (an undo across a remake)
function show(state, fresh = false) {
  if (fresh || !STATE || STATE.medium !== state.medium || STATE.width !== state.width ||
      STATE.height !== state.height) $("cell-info").textContent = CELL_HINT;
  STATE = state;
  stroke = null;
  $("result").hidden = false;
  syncForm(state);
  const [wmm, hmm] = state.size_mm;
  // the first line only: what each color stands for (a line per color) is folded below it,
  // so that the chart stays in view
  const [head, ...rest] = state.summary.split("\n");
  $("summary").textContent = [head + ` — finished ${(wmm / 10).toFixed(1)} × ` +
    `${(hmm / 10).toFixed(1)} cm`, ...rest.filter((l) => !l.startsWith("colors: "))].join("\n");
  const stands = state.stands_for || [];
  $("stands-for-list").replaceChildren(...stands.map((line) => {
    const li = document.createElement("li");
    li.textContent = line;
    return li;
  }));
  $("stands-for").hidden = !stands.length;
  $("undo").disabled = !state.can_undo;
  $("redo").disabled = !state.can_redo;
  $("edits").textContent = state.edits.length ? "Changes: " + state.edits.join("; ") : "";
  setNotes(state.notes);
  $("files").replaceChildren();
  if (!state.palette.some((p) => p.code === selected)) selected = null;
  drawLegend();
  drawChart();
  if (!$("preview-view").hidden) loadPreview();
  const c = OPTIONS.crafts.find((m) => m.name === state.medium);
  const brands = c.brands.includes(state.brand) ? c.brands : [state.brand, ...c.brands];
  fillSelect($("convert"), brands, null, state.brand);
  if (selected) openPanel(selected); else $("color-panel").hidden = true;
}

function drawLegend() {
  const items = STATE.palette.map((p) => {
    const li = document.createElement("li");
    li.dataset.code = p.code;
    if (p.code === selected) li.classList.add("selected");
    const sw = document.createElement("span");
    sw.className = "swatch";
    sw.style.background = p.hex;
    const sym = document.createElement("span");
    sym.className = "sym";
    sym.textContent = p.symbol;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = `${p.code} ${p.name}`;
    const stands = (STATE.stands_for || []).find((l) => l.startsWith(`${p.code} ${p.name} for `));
    name.title = `${p.code} ${p.name} ${p.hex}` + (stands ? ` — stands ${stands.slice(p.code.length + p.name.length + 2)}` : "");
    const count = document.createElement("span");
    count.className = "count";
    count.textContent = p.count;
    li.append(sw, sym, name, count);
    li.addEventListener("click", () => { selected = p.code; drawLegend(); openPanel(p.code); });
    return li;
  });
  $("legend").replaceChildren(...items);
  const paint = STATE.palette.find((p) => p.code === selected);
  $("paint-swatch").style.background = paint ? paint.hex : "transparent";
  $("paint-swatch").title = paint ? `paint color: ${paint.code} ${paint.name}` : "pick a color in the legend";
}

async function loadCatalog(code) {  // the catalog, closest to `code` first (CIEDE2000)
  if (catalog && catalog.version === STATE.version && catalog.code === code) return catalog.colors;
  const data = await call(`/api/catalog?near=${encodeURIComponent(code)}`);
  catalog = { version: STATE.version, code, colors: data.colors };
  return catalog.colors;
}

async function openPanel(code) {
  const p = STATE.palette.find((c) => c.code === code);
  if (!p) return;
  $("color-panel").hidden = false;
  $("cp-swatch").style.background = p.hex;
  $("cp-title").textContent = `${p.code} ${p.name} — ${p.count} ${STATE.piece}s`;
  const colors = await guarded(() => loadCatalog(code));
  if (colors) drawGrid(colors);
}

function drawGrid(colors) {
  const filter = $("cp-filter").value.trim().toLowerCase();
  const used = new Set(STATE.palette.map((p) => p.code));
  const buttons = colors
    .filter((c) => c.code !== selected)
    .filter((c) => !filter || c.code.toLowerCase().includes(filter) || c.name.toLowerCase().includes(filter))
    .map((c) => {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.code = c.code;
      b.title = `${c.code} ${c.name} ${c.hex}, ΔE00 ${c.delta_e}${used.has(c.code) ? " (in the pattern)" : ""}`;
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = c.hex;
      const label = document.createElement("span");
      label.textContent = `${c.code} ${c.name}`;
      b.append(sw, label);
      b.addEventListener("click", () => edit({ op: "replace", code: selected, to: c.code }, c.code));
      return b;
    });
  $("cp-grid").replaceChildren(...buttons);
}

async function edit(body, nextSelected) {
  const state = await guarded(() => call("/api/edit", { method: "POST", json: body }));
  if (state) {
    if (nextSelected !== undefined) selected = nextSelected;
    show(state);
  }
}

async function step(direction) {
  const state = await guarded(() => call(`/api/${direction}`, { method: "POST" }));
  if (state) show(state);
}

// --- the chart --------------------------------------------------------------------------------
function cellSize() {
  if (zoom > 0) return zoom;
  const width = ($("chart-wrap").clientWidth || 600) - RULER_LEFT;
  return Math.max(2, Math.min(40, Math.floor((width - 2) / STATE.width)));
}

function inkFor(hex) {
  const n = parseInt(hex.slice(1), 16);
  const l = 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255);
  return l > 140 ? "#000" : "#fff";
}

// An empty cell (no piece): the board or fabric shows through, drawn light with a small dot so
// that it never reads as a white piece.
function drawEmpty(g, x, y, s) {
  g.fillStyle = "#fbfbf8";
  g.fillRect(x, y, s, s);
  if (s >= 6) {
    g.fillStyle = "rgba(0,0,0,0.18)";
    g.beginPath();
    g.arc(x + s / 2, y + s / 2, Math.max(1, s / 10), 0, 2 * Math.PI);
    g.fill();
  }
}

// Chart symbols in a bold sans-serif like the PDF's (Bitstream Vera Sans Bold; DejaVu is its
// descendant), never a monospace face; "O" is drawn as the PDF's round ring so that it cannot
// read as a zero.
const SYMBOL_FONT = '"DejaVu Sans", "Bitstream Vera Sans", Verdana, Arial, sans-serif';

function drawSymbol(g, symbol, x, y, s) {
  const cx = x + s / 2, cy = y + s / 2;
  if (symbol === "O") {
    g.lineWidth = Math.max(1, s * 0.1);
    g.beginPath();
    g.arc(cx, cy, s * 0.27, 0, 2 * Math.PI);
    g.stroke();
    return;
  }
  g.fillText(symbol, cx, cy + 1);
}

function rulerStep(s) {  // numbers at every bold line, fewer when they would crowd
  return [10, 20, 50, 100, 200].find((k) => k * s >= 26) || 500;
}

// Numbers along the top and left count design columns and rows, at the bold lines every ten,
// as the PDF charts and `craftpix edit --set ROW,COL` count them (from 1 at the top left).
function drawRulers(s, w, h, ratio) {
  const step = rulerStep(s);
  for (const [id, across] of [["ruler-top", true], ["ruler-left", false]]) {
    const cv = $(id);
    const cw = across ? w * s : RULER_LEFT, ch = across ? RULER_TOP : h * s;
    cv.width = Math.round(cw * ratio);
    cv.height = Math.round(ch * ratio);
    cv.style.width = `${cw}px`;
    cv.style.height = `${ch}px`;
    const g = cv.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.fillStyle = "#333";
    g.font = `11px ${SYMBOL_FONT}`;
    g.textBaseline = "middle";
    const n = across ? w : h;
    for (let k = step; k <= n; k += step) {
      if (across) {
        g.textAlign = k * s + 12 > cw ? "right" : "center";
        g.fillText(String(k), Math.min(k * s, cw), RULER_TOP / 2);
      } else {
        g.textAlign = "right";
        g.fillText(String(k), RULER_LEFT - 3, Math.min(Math.max(k * s, 6), ch - 6));
      }
    }
  }
}

function drawChart() {
  if (!STATE) return;
  const s = cellSize(), w = STATE.width, h = STATE.height;
  drawn = s;
  const canvas = $("chart");
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(w * s * ratio);
  canvas.height = Math.round(h * s * ratio);
  canvas.style.width = `${w * s}px`;
  canvas.style.height = `${h * s}px`;
  drawRulers(s, w, h, ratio);
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  const pal = STATE.palette;
  for (let r = 0; r < h; r++) {
    const row = STATE.cells[r];
    for (let c = 0; c < w; c++) {
      const p = pal[row[c]];  // undefined for an empty cell (-1): no piece there
      if (p) {
        g.fillStyle = p.hex;
        g.fillRect(c * s, r * s, s, s);
      } else {
        drawEmpty(g, c * s, r * s, s);
      }
    }
  }
  if (s >= 12) {
    g.font = `bold ${Math.floor(s * 0.62)}px ${SYMBOL_FONT}`;
    g.textAlign = "center";
    g.textBaseline = "middle";
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        const p = pal[STATE.cells[r][c]];
        if (!p) continue;
        g.fillStyle = g.strokeStyle = inkFor(p.hex);
        drawSymbol(g, p.symbol, c * s, r * s, s);
      }
    }
  }
  drawChartGrid(g, s, w, h, ratio);
}

function drawGridLines(g, s, x0, y0, x1, y1, ratio) {
  g.lineWidth = 1 / ratio;
  g.strokeStyle = "rgba(0,0,0,0.25)";
  g.beginPath();
  for (let c = x0; c <= x1; c++) { g.moveTo(c * s, y0 * s); g.lineTo(c * s, y1 * s); }
  for (let r = y0; r <= y1; r++) { g.moveTo(x0 * s, r * s); g.lineTo(x1 * s, r * s); }
  g.stroke();
  g.lineWidth = 2 / ratio;
  g.strokeStyle = "rgba(0,0,0,0.6)";
  g.beginPath();
  for (let c = Math.ceil(x0 / 10) * 10; c <= x1; c += 10) { g.moveTo(c * s, y0 * s); g.lineTo(c * s, y1 * s); }
  for (let r = Math.ceil(y0 / 10) * 10; r <= y1; r += 10) { g.moveTo(x0 * s, r * s); g.lineTo(x1 * s, r * s); }
  g.stroke();
}

function drawChartGrid(g, s, w, h, ratio) {  // thin lines, bold every ten (as the PDF)
  if (s >= 6) drawGridLines(g, s, 0, 0, w, h, ratio);
}

// One cell painted on screen while a stroke is under way (the server's answer redraws all).
function paintCell(row, col, hex) {
  const g = $("chart").getContext("2d"), s = drawn;
  g.fillStyle = hex;
  g.fillRect(col * s, row * s, s, s);
  if (s >= 6) drawGridLines(g, s, col, row, col + 1, row + 1, window.devicePixelRatio || 1);
}

function cellAt(event) {
  const rect = $("chart").getBoundingClientRect();
  const s = rect.width / STATE.width;
  const col = Math.floor((event.clientX - rect.left) / s);
  const row = Math.floor((event.clientY - rect.top) / s);
  if (row < 0 || col < 0 || row >= STATE.height || col >= STATE.width) return null;
  return { row, col };
}

function tool() {
  return document.querySelector("input[name=tool]:checked").value;
}

function describe(cell) {
  const here = STATE.palette[STATE.cells[cell.row][cell.col]];  // undefined: an empty cell
  const what = here ? `${here.code} ${here.name}` : "empty";
  $("cell-info").textContent = `row ${cell.row + 1}, column ${cell.col + 1}: ${what}`;
  return here;
}

function onChartClick(event) {  // look and fill; painting goes by strokes (pointer events)
  if (!STATE || tool() === "set") return;
  const cell = cellAt(event);
  if (!cell) return;
  const here = describe(cell);
  if (tool() === "look") return;
  if (!selected) { showError("pick the paint color in the legend first"); return; }
  if (here && here.code === selected) return;
  edit({ op: "fill", row: cell.row, col: cell.col, to: selected });
}

// Painting: press, drag over the cells, release — one edit, so one Undo takes it back.
function onPaintDown(event) {
  if (!STATE || tool() !== "set" || (event.button !== undefined && event.button > 0)) return;
  const cell = cellAt(event);
  if (!cell) return;
  if (!selected) { showError("pick the paint color in the legend first"); return; }
  const paint = STATE.palette.find((p) => p.code === selected);
  if (!paint) return;
  event.preventDefault();
  stroke = { cells: [], seen: new Set(), last: null, code: paint.code, hex: paint.hex };
  try { $("chart").setPointerCapture(event.pointerId); } catch (_) { /* synthetic events */ }
  strokeTo(cell);
}

function strokeTo(cell) {  // every cell on the line from the last one: a fast drag leaves no gap
  const from = stroke.last || cell;
  const n = Math.max(Math.abs(cell.row - from.row), Math.abs(cell.col - from.col));
  for (let i = stroke.last ? 1 : 0; i <= n; i++) {
    const t = n ? i / n : 0;
    const row = Math.round(from.row + (cell.row - from.row) * t);
    const col = Math.round(from.col + (cell.col - from.col) * t);
    const key = row * STATE.width + col;
    if (stroke.seen.has(key)) continue;
    stroke.seen.add(key);
    const here = STATE.palette[STATE.cells[row][col]];
    if (here && here.code === stroke.code) continue;
    stroke.cells.push([row, col]);
    paintCell(row, col, stroke.hex);
  }
  stroke.last = cell;
  describe(cell);
}

function onPaintMove(event) {
  if (!stroke) return;
  const cell = cellAt(event);
  if (cell) strokeTo(cell);
}

function onPaintUp() {
  if (!stroke) return;
  const done = stroke;
  stroke = null;
  if (done.cells.length) edit({ op: "set", cells: done.cells, to: done.code });
}

function onPaintCancel() {
  if (!stroke) return;
  stroke = null;
  drawChart();  // the stroke is dropped: show the pattern as it is
}

function setZoom(next) {
  zoom = next;
  drawChart();
}

// --- downloads ----------------------------------------------------------------------------------
async function prepareFiles() {
  $("files-btn").disabled = true;
  const data = await guarded(() => call("/api/files"));
  $("files-btn").disabled = false;
  if (!data) return;
  $("files").replaceChildren(...data.files.map((f) => {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = f.url;
    a.download = f.name;
    a.textContent = f.name;
    li.append(a);
    if (f.bytes) li.append(` (${Math.max(1, Math.round(f.bytes / 1024))} KB)`);
    return li;
  }));
  setNotes(data.notes);
}

function loadPreview() {
  $("preview").src = `/api/preview.png?v=${STATE.version}`;
}

function tab(which) {
  const chart = which === "chart";
  $("chart-view").hidden = !chart;
  $("preview-view").hidden = chart;
  $("tab-chart").setAttribute("aria-selected", String(chart));
  $("tab-preview").setAttribute("aria-selected", String(!chart));
  if (!chart) loadPreview(); else drawChart();
}

// --- prompt jobs ---------------------------------------------------------------------------------
async function startJob() {
  const body = { ...formValues(), prompt: $("prompt").value, quality: $("quality").value,
                 steps: number("steps"),
                 use_image: $("use-photo").checked };
  const data = await guarded(() => call("/api/jobs", { method: "POST", json: body }));
  if (!data) return;
  job = data.id;
  watchJob(data);
}

function watchJob(data) {
  const running = data.state === "queued" || data.state === "running";
  $("job-cancel").hidden = !running;
  $("job-start").disabled = running;
  $("job-bar").hidden = !(running || data.state === "done");  // a failed job has no progress
  $("job-bar").value = data.fraction;
  const what = { queued: "waiting for its turn", running: `${data.stage}, ${Math.round(data.fraction * 100)} %`,
                 done: "done", error: "failed", cancelled: "cancelled" }[data.state];
  // a failure is said once, here (not in the banner too): one plain line, the rest folded
  $("job-msg").textContent = `Prompt job: ${what}${data.message && data.state !== "done" ? ": " + data.message : ""} (${data.seconds} s)`;
  $("job-detail-text").textContent = data.detail || "";
  $("job-detail").hidden = !(data.state === "error" && data.detail);
  if (data.preview) {
    $("job-preview").src = `/api/jobs/${data.id}/preview.png?t=${Date.now()}`;
    $("job-preview").hidden = false;
  }
  if (data.state === "done") {
    guarded(() => call(`/api/jobs/${data.id}/open`, { method: "POST" })).then((s) => s && show(s, true));
  }
  if (running) setTimeout(pollJob, 1000);
}

async function pollJob() {
  if (!job) return;
  const data = await guarded(() => call(`/api/jobs/${job}`));
  if (data) watchJob(data);
}

async function cancelJob() {
  if (!job) return;
  const data = await guarded(() => call(`/api/jobs/${job}`, { method: "DELETE" }));
  if (data) watchJob(data);
}

// --- wiring ------------------------------------------------------------------------------------
async function init() {
  OPTIONS = await guarded(() => call("/api/options"));
  if (!OPTIONS) return;
  fillSelect($("medium"), OPTIONS.crafts.map((c) => c.name), OPTIONS.crafts.map((c) => c.title));
  fillSelect($("fit"), OPTIONS.fits);
  fillSelect($("paper"), OPTIONS.papers, ["A4", "Letter"]);
  fillSelect($("part"), OPTIONS.parts, ["1×1 plate", "1×1 round plate", "1×1 tile"]);
  fillSelect($("drill"), Object.keys(OPTIONS.drills),
             Object.entries(OPTIONS.drills).map(([k, mm]) => `${k} (${mm} mm)`));
  onCraft();
  $("medium").addEventListener("change", () => { onCraft(); makeSoon(); });
  $("form").addEventListener("submit", (e) => { e.preventDefault(); clearTimeout(autoTimer); make(); });
  $("form").addEventListener("change", (e) => {
    if (!["palette-file", "medium", "open-file"].includes(e.target.id)) makeSoon();
  });
  for (const id of ["width", "height", "fabric-count", "drill"]) $(id).addEventListener("input", showFinished);
  $("smooth").addEventListener("input", () => { $("smooth-out").textContent = $("smooth").value; });
  $("photo").addEventListener("change", () => uploadPhoto($("photo").files[0]));
  $("palette-file").addEventListener("change", () => uploadPalette($("palette-file").files[0]));
  $("palette-drop").addEventListener("click", dropPalette);
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) uploadPhoto(e.dataTransfer.files[0]);
  });
  $("undo").addEventListener("click", () => step("undo"));
  $("redo").addEventListener("click", () => step("redo"));
  document.addEventListener("keydown", (e) => {
    if (!(e.ctrlKey || e.metaKey) || !STATE || e.target.matches("input, textarea")) return;
    if (e.key === "z" && !e.shiftKey) { e.preventDefault(); if (STATE.can_undo) step("undo"); }
    if (e.key === "y" || (e.key === "z" && e.shiftKey)) { e.preventDefault(); if (STATE.can_redo) step("redo"); }
  });
  $("chart").addEventListener("click", onChartClick);
  $("chart").addEventListener("pointerdown", onPaintDown);
  $("chart").addEventListener("pointermove", onPaintMove);
  $("chart").addEventListener("pointerup", onPaintUp);
  $("chart").addEventListener("pointercancel", onPaintCancel);
  for (const radio of document.querySelectorAll("input[name=tool]")) {
    radio.addEventListener("change", () => {  // a finger paints instead of scrolling
      $("chart").style.touchAction = tool() === "set" ? "none" : "";
    });
  }
  $("open-file").addEventListener("change", () => openPattern($("open-file").files[0]));
  $("zoom-in").addEventListener("click", () => setZoom(Math.min(64, Math.round(cellSize() * 1.5))));
  $("zoom-out").addEventListener("click", () => setZoom(Math.max(2, Math.round(cellSize() / 1.5))));
  $("zoom-fit").addEventListener("click", () => setZoom(0));
  $("chart-wrap").addEventListener("wheel", (e) => {
    if (!e.ctrlKey) return;
    e.preventDefault();
    setZoom(Math.max(2, Math.min(64, Math.round(cellSize() * (e.deltaY < 0 ? 1.25 : 0.8)))));
  }, { passive: false });
  window.addEventListener("resize", () => { if (zoom === 0) drawChart(); });
  $("tab-chart").addEventListener("click", () => tab("chart"));
  $("tab-preview").addEventListener("click", () => tab("preview"));
  $("cp-exclude").addEventListener("click", () => edit({ op: "exclude", code: selected }, null));
  $("cp-paint").addEventListener("click", () => {
    $("tool-paint").checked = true;
    $("tool-paint").dispatchEvent(new Event("change"));
    $("cell-info").textContent = "Tap or drag over cells to paint them.";
  });
  $("cp-close").addEventListener("click", () => { selected = null; $("color-panel").hidden = true; drawLegend(); });
  $("cp-filter").addEventListener("input", () => catalog && drawGrid(catalog.colors));
  $("clean").addEventListener("click", () => edit({ op: "clean", size: 1 }));
  $("convert").addEventListener("change", () => {
    if (STATE && $("convert").value !== STATE.brand) edit({ op: "convert", brand: $("convert").value }, null);
  });
  $("files-btn").addEventListener("click", prepareFiles);
  $("job-start").addEventListener("click", startJob);
  $("job-cancel").addEventListener("click", cancelJob);
  const existing = await call("/api/pattern").catch(() => null);  // a reload keeps the work
  if (existing) {
    hasPhoto = existing.photo;
    if (hasPhoto) $("drop-text").textContent = "the photo is loaded — drop another to change";
    applyForm(existing.form);
    show(existing);
  }
}

document.addEventListener("DOMContentLoaded", init);
