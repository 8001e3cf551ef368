/**
 * The team's dashboard (served at /dashboard): staff login (bearer token kept in sessionStorage),
 * responses over time (line chart), each question's distribution by municipality / clinic / team
 * (100 % stacked bars; groups under the minimum size drawn as suppressed), integer summaries, and the
 * CSV export; administrators also create respondent links and see them listed. Calls are those of
 * docs/quiz-api.md.
 */

import { clear, el } from "./js/dom.js";
import { ApiError, request } from "./js/http.js";
import { CATEGORICAL, CODE_COLOURS, columnChart, legend, lineChart, niceNumber, scaleColours, stackedBars }
  from "./js/charts.js";

const TOKEN_KEY = "transmodal:staff-token";
const $ = (id) => document.getElementById(id);
const CODE_LABELS = { dont_know: "Não sei", refused: "Prefiro não responder" };
const BY_LABELS = { municipality: "município", clinic: "unidade", team: "equipe" };

function token() { return sessionStorage.getItem(TOKEN_KEY); }

function staffCall(method, url, options = {}) {
  return request(method, url, Object.assign({}, options, { headers: { Authorization: `Bearer ${token()}` } }));
}

function showError(message) {
  clear($("error")).append(el("p", {}, message));
  $("error").classList.remove("hidden");
}
function clearError() { $("error").classList.add("hidden"); }

/** Run a step; a 401 (expired or revoked token) goes back to the login form. */
async function guarded(step) {
  clearError();
  try {
    return await step();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) { sessionStorage.removeItem(TOKEN_KEY); return showLogin(); }
    showError(err.message);
    return undefined;
  }
}

function showLogin() {
  $("app").classList.add("hidden");
  $("links").classList.add("hidden");
  $("login").classList.remove("hidden");
  $("who").textContent = "";
  $("username").focus();
}

async function login(event) {
  event.preventDefault();
  clearError();
  try {
    const res = await request("POST", "/api/staff/login",
      { json: { username: $("username").value.trim(), password: $("password").value } });
    sessionStorage.setItem(TOKEN_KEY, res.token);
    $("password").value = "";
    await openApp();
  } catch (err) {
    showError(err.status === 401 ? "Usuário ou senha incorretos." : err.message);
  }
}

async function logout() {
  try { await staffCall("POST", "/api/staff/logout"); } catch (err) { /* the token may be gone already */ }
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin();
}

let role = null;

async function openApp() {
  const me = await staffCall("GET", "/api/staff/me");
  role = me.role;
  $("who").textContent = `${me.username} (${me.role === "admin" ? "administrador" : "analista"})`;
  const { forms } = await staffCall("GET", "/api/forms");
  const select = clear($("form-select"));
  for (const f of forms) select.append(el("option", { value: f.form_id }, `${f.title} (${f.form_id})`));
  $("login").classList.add("hidden");
  $("app").classList.remove("hidden");
  if (!forms.length) { showError("Nenhum questionário importado ainda (transmodal forms import ARQUIVO.xlsx)."); return; }
  await refresh();
}

async function refresh() {
  const formId = $("form-select").value;
  const by = $("by-select").value;
  const q = `form_id=${encodeURIComponent(formId)}`;
  const [overview, report] = await Promise.all([
    staffCall("GET", `/api/reports/overview?${q}`),
    staffCall("GET", `/api/reports/questions?${q}&by=${encodeURIComponent(by)}`),
  ]);
  drawOverview(overview);
  drawQuestions(report);
  if (role === "admin") await drawLinks(formId);
}

/** Admin only: the form's links (full URL to copy, place codes, sessions started). */
async function drawLinks(formId) {
  $("links").classList.remove("hidden");
  const { links } = await staffCall("GET", "/api/links");
  const rows = links.filter((l) => l.form_id === formId);
  clear($("links-table")).append(
    el("tr", {}, ["Link", "Município", "Unidade", "Equipe", "Sessões"].map((h) => el("th", {}, h))),
    ...rows.map((l) => el("tr", {},
      el("td", {}, el("a", { href: l.url, target: "_blank", rel: "noopener" }, new URL(l.url, location.origin).href)),
      el("td", {}, l.municipality), el("td", {}, l.clinic), el("td", {}, l.team), el("td", {}, l.sessions ?? ""))));
}

async function createLink(event) {
  event.preventDefault();
  await guarded(async () => {
    await staffCall("POST", "/api/links", { json: { form_id: $("form-select").value,
      municipality: $("link-municipality").value.trim(), clinic: $("link-clinic").value.trim(),
      team: $("link-team").value.trim() } });
    $("link-form").reset();
    await drawLinks($("form-select").value);
  });
}

function tile(value, text) {
  return el("div", { class: "card", style: "margin:0" }, el("div", { style: "font-size:1.8rem;font-weight:700" }, value),
    el("div", { class: "muted small" }, text));
}

function drawOverview(o) {
  clear($("totals")).append(tile(o.sessions, "sessões iniciadas"), tile(o.consented, "com autorização"),
    tile(o.completed, "concluídas"), tile(o.answers, "respostas guardadas"));
  const box = clear($("over-time"));
  if (!o.over_time.length) { box.append(el("p", { class: "muted" }, "Ainda não há respostas.")); return; }
  const days = o.over_time.map((d) => d.date);
  const series = [
    { name: "sessões", colour: CATEGORICAL[1], values: o.over_time.map((d) => d.sessions) },
    { name: "concluídas", colour: CATEGORICAL[0], values: o.over_time.map((d) => d.completed) },
    { name: "respostas", colour: CATEGORICAL[2], values: o.over_time.map((d) => d.answers) },
  ];
  box.append(lineChart(days, series, "Sessões, sessões concluídas e respostas por dia"),
    legend(series.map((s) => ({ label: s.name, colour: s.colour }))));
}

/** Segments (choices then codes) with colours for one closed question. */
function segmentsFor(question, counts, codes) {
  const ordered = question.type === "likert" || question.type === "yes_no";
  const goodFirst = /bom|ótimo|otimo|sempre|sim|satisfeito/i.test((question.choices[0] || {}).label || "");
  const colours = ordered ? scaleColours(question.choices.length, goodFirst) : CATEGORICAL;
  const segs = question.choices.map((c, i) => ({ key: c.name, label: c.label, value: (counts || {})[c.name] || 0,
    colour: colours[i % colours.length] }));
  for (const [code, n] of Object.entries(codes || {}))
    segs.push({ key: `code:${code}`, label: CODE_LABELS[code] || code, value: n || 0, colour: CODE_COLOURS[code] || "#9e9e9e" });
  return segs;
}

function questionCard(question, by) {
  const title = el("h3", { style: "margin-top:0" }, question.label);
  const card = el("section", { class: "card chart", "data-question": question.name }, title);
  const rows = question.groups;
  const visible = rows.filter((g) => !g.suppressed);
  const nSuppressed = rows.length - visible.length;
  const chartLabel = `${question.label}: distribuição por ${BY_LABELS[by]}`;

  if (["yes_no", "select_one", "likert"].includes(question.type)) {
    const bars = rows.map((g) => ({ label: g.group, total: g.respondents, suppressed: g.suppressed,
      segments: g.suppressed ? [] : segmentsFor(question, g.counts, g.codes) }));
    card.append(stackedBars(bars, chartLabel),
      legend(segmentsFor(question, {}, { dont_know: 0, refused: 0 }).map((s) => ({ label: s.label, colour: s.colour }))));
  } else if (question.type === "integer") {
    card.append(integerTable(rows));
    const bins = binIntegers(mergeCounts(visible));
    if (bins.length) card.append(columnChart(bins, `${question.label}: respostas por valor (grupos visíveis)`));
  } else if (question.type === "date") {
    const merged = mergeCounts(visible);
    const months = Object.keys(merged).sort();
    card.append(months.length
      ? columnChart(months.map((m) => ({ label: m, value: merged[m] })), `${question.label}: respostas por mês (grupos visíveis)`)
      : el("p", { class: "muted" }, "Sem respostas em grupos visíveis."));
  } else {
    card.append(el("table", { class: "data" },
      el("tr", {}, el("th", {}, "Grupo"), el("th", {}, "Pessoas"), el("th", {}, "Não sei"), el("th", {}, "Recusou")),
      rows.map((g) => el("tr", { class: g.suppressed ? "suppressed" : null }, el("td", {}, g.group),
        g.suppressed ? el("td", { colspan: 3 }, "suprimido (menos de 10 pessoas)")
          : [el("td", {}, g.respondents), el("td", {}, g.codes?.dont_know ?? 0), el("td", {}, g.codes?.refused ?? 0)]))));
    card.append(el("p", { class: "muted small" }, "Textos livres: leia-os na exportação CSV (transcrições marcadas para revisão)."));
  }
  if (!rows.length) card.append(el("p", { class: "muted" }, "Ainda sem respostas."));
  if (nSuppressed) card.append(el("p", { class: "muted small" },
    `${nSuppressed} ${nSuppressed === 1 ? "grupo suprimido" : "grupos suprimidos"} (menos de 10 pessoas).`));
  return card;
}

function mergeCounts(groups) {
  const total = {};
  for (const g of groups) for (const [k, v] of Object.entries(g.counts || {})) total[k] = (total[k] || 0) + v;
  return total;
}

/**
 * Integer answers as columns: one per value when there are at most 12 distinct values, else bins of a
 * nice width (1, 2, 5 × 10^k) such as 20–29, 30–39 for ages.
 */
export function binIntegers(counts) {
  const values = Object.keys(counts).map(Number).filter(Number.isFinite).sort((a, b) => a - b);
  if (values.length <= 12) return values.map((v) => ({ label: String(v), value: counts[v] }));
  const lo = values[0], hi = values[values.length - 1];
  const width = niceNumber((hi - lo + 1) / 10);
  const bins = new Map();
  for (const v of values) {
    const start = Math.floor(v / width) * width;
    bins.set(start, (bins.get(start) || 0) + counts[v]);
  }
  const out = [];
  for (let start = Math.floor(lo / width) * width; start <= hi; start += width)
    out.push({ label: `${start}–${start + width - 1}`, value: bins.get(start) || 0 });
  return out;
}

function integerTable(rows) {
  const fmt = (v) => (v === null || v === undefined ? "—" : Number.isInteger(v) ? v : v.toFixed(1));
  return el("table", { class: "data" },
    el("tr", {}, ["Grupo", "n", "Média", "Mediana", "Mín.", "Máx."].map((h) => el("th", {}, h))),
    rows.map((g) => el("tr", { class: g.suppressed ? "suppressed" : null }, el("td", {}, g.group),
      g.suppressed ? el("td", { colspan: 5 }, "suprimido (menos de 10 pessoas)")
        : ["n", "mean", "median", "min", "max"].map((k) => el("td", {}, fmt(g.stats?.[k]))))));
}

function drawQuestions(report) {
  $("suppression-note").textContent = `Grupos com menos de ${report.min_group_size} pessoas aparecem como ` +
    "“suprimido”, para que ninguém possa ser identificado.";
  const box = clear($("questions"));
  for (const q of report.questions) box.append(questionCard(q, report.by));
}

/** The CSV needs the bearer header, so fetch it and hand the browser a Blob to save. */
async function downloadCsv() {
  const formId = $("form-select").value;
  const res = await staffCall("GET", `/api/export/answers.csv?form_id=${encodeURIComponent(formId)}`, { raw: true });
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: `respostas-${formId}.csv` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

$("login-form").addEventListener("submit", login);
$("logout").addEventListener("click", logout);
$("refresh").addEventListener("click", () => guarded(refresh));
$("form-select").addEventListener("change", () => guarded(refresh));
$("by-select").addEventListener("change", () => guarded(refresh));
$("csv").addEventListener("click", () => guarded(downloadCsv));
$("link-form").addEventListener("submit", createLink);

if (token()) guarded(openApp); else showLogin();
