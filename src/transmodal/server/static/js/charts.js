/**
 * Tiny SVG charts for the dashboard (no library, no CDN): a line chart over days, horizontal 100 %
 * stacked bars (one row per group, suppressed groups drawn hatched and labelled), and a column chart.
 * Every chart is an <svg> with a viewBox, so it scales to the card's width; each has a <title> and
 * role="img" with an aria-label that says what it shows, and every bar a <title> tooltip.
 */

const NS = "http://www.w3.org/2000/svg";
const FONT = 14; // px in viewBox units; the charts are drawn ~480 units wide so text stays legible on phones

export const CATEGORICAL = ["#0b6e4f", "#1a73e8", "#f2b705", "#b3261e", "#7b1fa2", "#00838f", "#ef6c00", "#5d4037"];
const DIVERGING = ["#b3261e", "#ef8a62", "#e0c45c", "#67a96f", "#0b6e4f"];
export const CODE_COLOURS = { dont_know: "#9e9e9e", refused: "#616161" };

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function frame(width, height, label) {
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label }, svg("title", {}, label));
}

/** `n` colours for ordered choices: a red→green scale (reversed when the scale starts with the good end). */
export function scaleColours(n, goodFirst) {
  const pick = [];
  for (let i = 0; i < n; i++) pick.push(DIVERGING[Math.round((i * (DIVERGING.length - 1)) / Math.max(1, n - 1))]);
  return goodFirst ? pick.reverse() : pick;
}

/** A "nice" number (1, 2, 5 × 10^k) at or above `x`. */
export function niceNumber(x) {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

/** Axis ticks for counts: whole steps (1, 2, 5 × 10^k), about four of them, from 0 to at least `max`. */
export function countTicks(max) {
  const step = Math.max(1, niceNumber(Math.max(1, max) / 4));
  const top = Math.max(step, Math.ceil(Math.max(1, max) / step) * step);
  const ticks = [];
  for (let v = 0; v <= top; v += step) ticks.push(v);
  return ticks;
}

function yAxis(root, ticks, y, x1, x2) {
  for (const v of ticks)
    root.append(svg("line", { x1, x2, y1: y(v), y2: y(v), stroke: "#d8ddd9" }),
      svg("text", { x: x1 - 6, y: y(v) + 4, "text-anchor": "end", "font-size": FONT - 1 }, v));
}

/**
 * Line chart. series: [{name, colour, values: [number per x]}], xs: labels (e.g. "2026-11-22").
 * Draws a y grid with 4 steps, dots on each point and the last value at the right end.
 */
export function lineChart(xs, series, label) {
  const W = 520, H = 260, L = 44, R = 52, T = 16, B = 36;
  const root = frame(W, H, label);
  const ticks = countTicks(Math.max(...series.flatMap((s) => s.values)));
  const max = ticks[ticks.length - 1];
  const x = (i) => L + (xs.length <= 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (xs.length - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  yAxis(root, ticks, y, L, W - R);
  const every = Math.max(1, Math.ceil(xs.length / 6));
  xs.forEach((lab, i) => {
    if (i % every === 0 || i === xs.length - 1)
      root.append(svg("text", { x: x(i), y: H - B + 20, "text-anchor": "middle", "font-size": FONT - 1 },
        lab.length === 10 ? `${lab.slice(8)}/${lab.slice(5, 7)}` : lab));
  });
  for (const s of series) {
    const pts = s.values.map((v, i) => `${x(i)},${y(v)}`).join(" ");
    root.append(svg("polyline", { points: pts, fill: "none", stroke: s.colour, "stroke-width": 2.5,
      "stroke-linejoin": "round", class: "series", "data-series": s.name }));
    s.values.forEach((v, i) => root.append(svg("circle", { cx: x(i), cy: y(v), r: 3.5, fill: s.colour },
      svg("title", {}, `${s.name} em ${xs[i]}: ${v}`))));
    if (s.values.length)
      root.append(svg("text", { x: x(s.values.length - 1) + 8, y: y(s.values[s.values.length - 1]) + 5,
        "font-size": FONT, fill: s.colour, "font-weight": 600 }, s.values[s.values.length - 1]));
  }
  return root;
}

/**
 * Horizontal 100 % stacked bars. rows: [{label, total, suppressed, segments: [{key, label, value, colour}]}].
 * A suppressed row is a hatched grey bar that says why no figures are shown.
 */
export function stackedBars(rows, label) {
  const W = 480, L = 92, R = 50, rowH = 32, gap = 10, T = 6;
  const H = T + rows.length * (rowH + gap) + 4;
  const root = frame(W, H, label);
  const pattern = svg("pattern", { id: `hatch-${Math.random().toString(36).slice(2)}`, width: 8, height: 8,
    patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
  svg("rect", { width: 8, height: 8, fill: "#eceeed" }), svg("line", { x1: 0, y1: 0, x2: 0, y2: 8, stroke: "#b9c0bc", "stroke-width": 3 }));
  root.append(svg("defs", {}, pattern));
  const inner = W - L - R;
  rows.forEach((row, r) => {
    const y0 = T + r * (rowH + gap);
    root.append(svg("text", { x: L - 8, y: y0 + rowH / 2 + 5, "text-anchor": "end", "font-size": FONT }, row.label));
    if (row.suppressed) {
      root.append(svg("rect", { x: L, y: y0, width: inner, height: rowH, fill: `url(#${pattern.id})`, rx: 4,
        class: "suppressed" }, svg("title", {}, `${row.label}: menos de 10 pessoas — números ocultos`)),
      svg("text", { x: L + inner / 2, y: y0 + rowH / 2 + 5, "text-anchor": "middle", "font-size": FONT - 1,
        fill: "#3b4540" }, "suprimido (< 10 pessoas)"));
      return;
    }
    const total = row.segments.reduce((a, s) => a + s.value, 0);
    let x = L;
    for (const s of row.segments) {
      if (!s.value) continue;
      const w = (inner * s.value) / total;
      const pct = Math.round((100 * s.value) / total);
      root.append(svg("rect", { x, y: y0, width: w, height: rowH, fill: s.colour, class: "segment", "data-key": s.key },
        svg("title", {}, `${row.label} — ${s.label}: ${s.value} (${pct} %)`)));
      if (w > 34) root.append(svg("text", { x: x + w / 2, y: y0 + rowH / 2 + 5, "text-anchor": "middle",
        "font-size": FONT - 1, fill: "#fff", "font-weight": 600 }, `${pct}%`));
      x += w;
    }
    if (!total) root.append(svg("text", { x: L + 4, y: y0 + rowH / 2 + 5, "font-size": FONT, fill: "#56625c" }, "sem respostas"));
    root.append(svg("text", { x: W - R + 6, y: y0 + rowH / 2 + 5, "font-size": FONT - 2, fill: "#56625c" },
      `n=${row.total ?? total}`));
  });
  return root;
}

/** Vertical columns: points [{label, value}] (e.g. answers per month). */
export function columnChart(points, label, colour = CATEGORICAL[1]) {
  const W = 480, H = 230, L = 36, R = 8, T = 14, B = 40;
  const root = frame(W, H, label);
  const ticks = countTicks(Math.max(...points.map((p) => p.value)));
  const max = ticks[ticks.length - 1];
  const slot = (W - L - R) / Math.max(1, points.length);
  const y = (v) => T + (H - T - B) * (1 - v / max);
  yAxis(root, ticks, y, L, W - R);
  const every = Math.max(1, Math.ceil(points.length / 8));
  points.forEach((p, i) => {
    const x = L + i * slot + slot * 0.15;
    root.append(svg("rect", { x, y: y(p.value), width: slot * 0.7, height: y(0) - y(p.value), fill: colour, rx: 2,
      class: "column" }, svg("title", {}, `${p.label}: ${p.value}`)));
    if (i % every === 0) root.append(svg("text", { x: x + slot * 0.35, y: H - B + 20, "text-anchor": "middle",
      "font-size": FONT - 2 }, p.label));
  });
  return root;
}

/** A legend: items [{label, colour}] as a flex row of swatches (HTML, wraps on phones). */
export function legend(items) {
  const div = document.createElement("div");
  div.className = "legend";
  for (const it of items) {
    const span = document.createElement("span");
    span.style.setProperty("--swatch", it.colour);
    span.textContent = it.label;
    div.append(span);
  }
  return div;
}
