/**
 * The "answer by tapping" widgets for each question type. Each builder returns a DOM node and calls
 * submit(body) with the JSON body of POST …/answers/{question}/choose:
 *   yes_no / select_one / likert  one big button per choice       {"value": "<choice name>"}
 *   integer                       number field + Enviar            {"value": 42}
 *   date                          month + year (+ optional day)     {"value": "2026-03" | "2026-03-14"}
 *   text                          text area + Enviar                {"value": "…"}
 *   any                           Não sei / Prefiro não responder   {"code": "dont_know" | "refused"}
 */

import { el } from "./dom.js";

export const MONTHS = ["janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto",
  "setembro", "outubro", "novembro", "dezembro"];

let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

function choiceButtons(question, submit) {
  return el("div", { class: "stack choices", role: "group", "aria-label": "Opções de resposta" },
    question.choices.map((c) =>
      el("button", { type: "button", class: "choice", "data-choice": c.name,
        onclick: () => submit({ value: c.name }) }, c.label)));
}

function integerField(question, submit, showError) {
  const id = nextId("num");
  const input = el("input", { id, type: "number", inputmode: "numeric", step: "1", name: "value" });
  const send = () => {
    const text = input.value.trim();
    if (!/^-?\d+$/.test(text)) { showError("Digite um número inteiro."); input.focus(); return; }
    submit({ value: parseInt(text, 10) });
  };
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") send(); });
  return el("div", { class: "stack" },
    el("label", { for: id }, "Digite o número"), input,
    el("button", { type: "button", class: "primary", onclick: send }, "Enviar número"));
}

function dateFields(question, submit, showError) {
  const monthId = nextId("month");
  const yearId = nextId("year");
  const dayId = nextId("day");
  const monthOnly = /month-year/.test(question.appearance || "");
  const thisYear = new Date().getFullYear();
  const month = el("select", { id: monthId, name: "month" }, el("option", { value: "" }, "— mês —"),
    MONTHS.map((m, i) => el("option", { value: String(i + 1).padStart(2, "0") }, m)));
  const years = [];
  for (let y = thisYear; y >= thisYear - 110; y--) years.push(el("option", { value: String(y) }, String(y)));
  const year = el("select", { id: yearId, name: "year" }, el("option", { value: "" }, "— ano —"), years);
  const days = [];
  for (let d = 1; d <= 31; d++) days.push(el("option", { value: String(d).padStart(2, "0") }, String(d)));
  const day = el("select", { id: dayId, name: "day" }, el("option", { value: "" }, "— não lembro —"), days);
  const send = () => {
    if (!month.value || !year.value) { showError("Escolha o mês e o ano."); return; }
    submit({ value: day.value && !monthOnly ? `${year.value}-${month.value}-${day.value}` : `${year.value}-${month.value}` });
  };
  return el("div", { class: "stack" },
    el("div", { class: "row" },
      el("div", {}, el("label", { for: monthId }, "Mês"), month),
      el("div", {}, el("label", { for: yearId }, "Ano"), year),
      monthOnly ? null : el("div", {}, el("label", { for: dayId }, "Dia (opcional)"), day)),
    el("button", { type: "button", class: "primary", onclick: send }, "Enviar data"));
}

function textField(question, submit, showError) {
  const id = nextId("text");
  const area = el("textarea", { id, name: "value", maxlength: "2000" });
  const send = () => {
    if (!area.value.trim()) { showError("Escreva sua resposta antes de enviar."); return; }
    submit({ value: area.value.trim() });
  };
  return el("div", { class: "stack" },
    el("label", { for: id }, "Escreva sua resposta"), area,
    el("button", { type: "button", class: "primary", onclick: send }, "Enviar texto"));
}

const BUILDERS = { yes_no: choiceButtons, select_one: choiceButtons, likert: choiceButtons,
  integer: integerField, date: dateFields, text: textField };

/** The tap widgets for `question` (with the two codes below them). */
export function tapAnswers(question, submit, showError) {
  const build = BUILDERS[question.type];
  return el("div", { class: "stack" },
    build ? build(question, submit, showError) : null,
    el("div", { class: "row" },
      el("button", { type: "button", onclick: () => submit({ code: "dont_know" }) }, "Não sei"),
      el("button", { type: "button", onclick: () => submit({ code: "refused" }) }, "Prefiro não responder")));
}
