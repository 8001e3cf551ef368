/**
 * The respondent's page (served at /r/{token}); the HTTP calls are those of docs/quiz-api.md.
 *
 *   welcome ─Começar─> consent (one screen per purpose, voice or tap) ─all answered─> question loop
 *   question loop: GET /next → play the prompt → record (MediaRecorder) → 16 kHz WAV → upload
 *                  → accept (next) | confirm (read back: Sim / Não, repetir) | reask (rephrase → list →
 *                  buttons) | give_up; tapping an option is always possible.
 *   refusing to store answers ends the session (the server deletes it); the last screen thanks.
 *
 * Every screen is drawn from the server's answer to GET /next, so a reload resumes exactly where the
 * person was: the session id and secret live in sessionStorage under "transmodal:<token>".
 */

import { clear, el, playPrompt, stopPrompt } from "./js/dom.js";
import { ApiError, request, retryable } from "./js/http.js";
import { icon } from "./js/icons.js";
import { AnswerRecorder, canRecord } from "./js/recorder.js";
import { tapAnswers } from "./js/tap_answers.js";
import { recordingToWav } from "./js/wav.js";

const screen = document.getElementById("screen");
const statusBox = document.getElementById("status");
const errorBox = document.getElementById("error");
const progressBar = document.getElementById("progress");

const token = decodeURIComponent(location.pathname.replace(/\/+$/, "").split("/").pop() || "");
const storeKey = `transmodal:${token}`;
let session = null;  // {session_id, session_secret, title, consent_prompts, purpose_index}
let flash = null;    // {kind: "ok" | "info", text} shown at the top of the next screen
let recorder = null;
let renders = 0;     // bumped on every new screen (data-render on #screen), so tests can wait for the next one

/** Replace the screen's content and move keyboard focus to its heading. */
function show(...nodes) {
  clear(screen).append(...nodes.filter((n) => n !== null && n !== undefined));
  screen.dataset.render = String(++renders);
  const heading = screen.querySelector("h2");
  if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus({ preventScroll: false }); }
}

// ---------------------------------------------------------------- session storage and HTTP

function saveSession() { sessionStorage.setItem(storeKey, JSON.stringify(session)); }
function forgetSession() { sessionStorage.removeItem(storeKey); session = null; }
function loadSession() {
  try { return JSON.parse(sessionStorage.getItem(storeKey) || "null"); } catch (err) { return null; }
}

/** A call under /api/sessions/{id}/… with the session secret header. */
function sessionCall(method, path, options = {}) {
  const headers = { "X-Session-Secret": session.session_secret };
  return request(method, `/api/sessions/${encodeURIComponent(session.session_id)}${path}`,
    Object.assign({}, options, { headers }));
}

// ---------------------------------------------------------------- feedback

function setStatus(text) { statusBox.textContent = text || ""; }

function clearError() { errorBox.classList.add("hidden"); clear(errorBox); }

/** Show a message with an optional "Tentar de novo" button that re-runs the failed step. */
function showError(message, retry) {
  clear(errorBox);
  errorBox.append(el("p", {}, message));
  if (retry) errorBox.append(el("button", { type: "button", onclick: () => { clearError(); retry(); } }, "Tentar de novo"));
  errorBox.classList.remove("hidden");
  errorBox.scrollIntoView({ block: "nearest" });
}

/** Run an async step; a lost or expired session goes back to the start, anything else offers a retry. */
async function guarded(step) {
  clearError();
  try {
    return await step();
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 403) && session) {
      forgetSession();
      showError("Esta sessão não existe mais. Você pode começar de novo.", () => start());
      return undefined;
    }
    showError(err.message || String(err), retryable(err) ? () => guarded(step) : null);
    return undefined;
  }
}

function setProgress(progress) {
  if (!progress || !progress.total) { progressBar.classList.add("hidden"); return; }
  const pct = Math.round((100 * progress.answered) / progress.total);
  progressBar.classList.remove("hidden");
  progressBar.setAttribute("aria-valuenow", String(pct));
  progressBar.firstElementChild.style.width = `${pct}%`;
}

function flashNode() {
  if (!flash) return null;
  const node = el("p", { class: flash.kind === "ok" ? "understood" : "reask", id: "flash" }, flash.text);
  flash = null;
  return node;
}

// ---------------------------------------------------------------- voice capture block

/**
 * The big microphone button with a level meter. Tap: record until the person stops talking (or taps
 * again); the recording is converted to a 16 kHz mono WAV and handed to onWav(blob).
 */
function micBlock(label, onWav) {
  const meter = el("div", { class: "meter", "aria-hidden": "true" }, el("div"));
  const button = el("button", { type: "button", class: "mic", id: "mic", "aria-pressed": "false" });
  const setLabel = (name, text) => { clear(button).append(icon(name), el("span", {}, text)); };
  setLabel("mic", label);
  const reset = () => {
    button.classList.remove("recording");
    button.setAttribute("aria-pressed", "false");
    setLabel("mic", label);
    button.disabled = false;
    meter.firstElementChild.style.width = "0";
  };
  button.addEventListener("click", async () => {
    if (recorder && recorder.recording) { recorder.stop(); return; }
    stopPrompt();
    clearError();
    recorder = new AnswerRecorder({
      onLevel: (rms) => { meter.firstElementChild.style.width = `${Math.min(100, rms * 400)}%`; },
      onStop: async (blob) => {
        button.disabled = true;
        setLabel("wait", "Enviando…");
        setStatus("Processando a gravação…");
        let wav;
        try {
          wav = await recordingToWav(blob);
        } catch (err) {
          reset();
          setStatus("");
          showError(err.message);
          return;
        }
        await onWav(wav);
        reset();
      },
    });
    try {
      await recorder.start();
    } catch (err) {
      showError(err.message);
      return;
    }
    button.classList.add("recording");
    button.setAttribute("aria-pressed", "true");
    setLabel("stop", "Gravando… toque para parar");
    setStatus("Pode falar. A gravação para sozinha quando você terminar.");
  });
  if (!canRecord()) {
    button.disabled = true;
    setLabel("mic", "Este navegador não grava áudio: responda tocando");
  }
  return el("div", {}, button, meter);
}

function listenButton(url, text = "Ouvir de novo") {
  return url ? el("button", { type: "button", class: "listen", id: "listen", onclick: () => playPrompt(url) },
    icon("speaker"), el("span", {}, text)) : null;
}

// ---------------------------------------------------------------- start, welcome, consent

async function start() {
  clearError();
  session = loadSession();
  if (session) {
    document.getElementById("title").textContent = session.title || "Questionário por voz";
    if (session.purpose_index < session.consent_prompts.length) return renderConsent();
    return loadNext();
  }
  try {
    const info = await request("GET", `/api/r/${encodeURIComponent(token)}`);
    renderWelcome(info);
  } catch (err) {
    show(el("h2", {}, "Link inválido"),
      el("p", {}, err.status === 404 ? "Este link de questionário não existe ou foi desativado." : err.message));
    if (err.status !== 404) showError(err.message, () => start());
  }
}

function renderWelcome(info) {
  document.getElementById("title").textContent = info.title;
  show(
    el("h2", {}, info.title),
    el("p", {}, `São ${info.questions} perguntas curtas. Você pode responder falando ou tocando nas opções.`),
    el("p", { class: "hint" }, "Antes de começar, vamos pedir sua autorização. Nada é guardado sem ela."),
    el("button", { type: "button", class: "primary", id: "begin", onclick: () => guarded(beginSession) }, "Começar"));
}

async function beginSession() {
  const created = await request("POST", `/api/r/${encodeURIComponent(token)}/sessions`);
  session = Object.assign({ purpose_index: 0 }, created);
  saveSession();
  renderConsent();
}

function renderConsent() {
  setProgress(null);
  const prompt = session.consent_prompts[session.purpose_index];
  const step = `${session.purpose_index + 1} de ${session.consent_prompts.length}`;
  show(
    el("p", { class: "muted small" }, `Autorização ${step}${prompt.required ? " (obrigatória)" : " (opcional)"}`),
    flashNode(),
    el("h2", { id: "question-label" }, prompt.prompt),
    listenButton(prompt.audio_url),
    micBlock("Responder falando", (wav) => guarded(() => sendConsentVoice(prompt, wav))),
    el("p", { class: "hint" }, "Ou toque:"),
    el("div", { class: "row" },
      el("button", { type: "button", class: "primary", id: "consent-yes",
        onclick: () => guarded(() => sendConsentClick(prompt, true)) }, "Sim, aceito"),
      el("button", { type: "button", id: "consent-no",
        onclick: () => guarded(() => sendConsentClick(prompt, false)) }, "Não aceito")));
  playPrompt(prompt.audio_url);
}

async function sendConsentClick(prompt, granted) {
  const res = await sessionCall("POST", "/consent", { json: { purpose: prompt.purpose, granted, mode: "click" } });
  afterConsent(res);
}

async function sendConsentVoice(prompt, wav) {
  const form = new FormData();
  form.append("purpose", prompt.purpose);
  form.append("audio", wav, "consent.wav");
  const res = await sessionCall("POST", "/consent", { form });
  afterConsent(res);
}

function afterConsent(res) {
  setStatus("");
  if (res.ended) {
    forgetSession();
    show(el("h2", { id: "ended" }, "Tudo bem."),
      el("p", {}, "Sem a sua autorização, nada foi guardado. Obrigado pelo seu tempo."));
    return;
  }
  if (!res.understood) {
    flash = { kind: "info", text: res.prompt || "Não entendi. Responda sim ou não, ou toque num botão." };
    return renderConsent();
  }
  flash = { kind: "ok", text: res.granted ? "✓ Autorização registrada: sim." : "✓ Registrado: não." };
  session.granted = Object.assign({}, session.granted, { [res.purpose]: !!res.granted });
  session.purpose_index += 1;
  saveSession();
  if (res.next_purpose) {
    const idx = session.consent_prompts.findIndex((p) => p.purpose === res.next_purpose);
    if (idx >= 0) { session.purpose_index = idx; saveSession(); }
    return renderConsent();
  }
  session.purpose_index = session.consent_prompts.length;
  saveSession();
  return loadNext();
}

// ---------------------------------------------------------------- questions

async function loadNext() {
  const next = await guardedNext();
  if (next === undefined) return;
  if (next.done) return renderDone(next);
  renderQuestion(next);
}

/** GET /next; a 409 "consent not complete" after a reload sends the person back to the consent screens. */
async function guardedNext() {
  try {
    return await sessionCall("GET", "/next");
  } catch (err) {
    if (err instanceof ApiError && err.status === 409 && session) {
      session.purpose_index = 0;
      saveSession();
      renderConsent();
      return undefined;
    }
    if (err instanceof ApiError && (err.status === 404 || err.status === 403)) {
      forgetSession();
      showError("Esta sessão não existe mais. Você pode começar de novo.", () => start());
      return undefined;
    }
    showError(err.message, () => loadNext());
    return undefined;
  }
}

function renderQuestion(next) {
  const q = next.question;
  setProgress(next.progress);
  setStatus("");
  const nodes = [flashNode(), el("h2", { id: "question-label", "data-question": q.name }, q.label)];
  if (q.hint) nodes.push(el("p", { class: "hint" }, q.hint));

  if (q.type === "note") {
    nodes.push(listenButton(q.audio_url, "Ouvir"),
      el("button", { type: "button", class: "primary", id: "continue",
        onclick: () => guarded(() => choose(q, {})) }, "Continuar"));
    show(...nodes);
    playPrompt(q.audio_url);
    return;
  }

  const pending = next.pending_confirmation;
  const reask = next.reask;
  let promptUrl = q.audio_url;
  if (pending) {
    promptUrl = pending.audio_url || null;
    nodes.push(el("div", { class: "understood", id: "understood" },
      el("p", {}, el("strong", {}, pending.label ?? String(pending.value ?? pending.code))),
      el("p", {}, pending.prompt || "Está certo?")),
    micBlock("Responder falando: sim ou não", (wav) => guarded(() => confirmByVoice(q, wav))),
    el("p", { class: "hint" }, "Ou toque:"),
    el("div", { class: "row" },
      el("button", { type: "button", class: "primary", id: "confirm-yes",
        onclick: () => guarded(() => confirm(q, true)) }, "Sim, está certo"),
      el("button", { type: "button", id: "confirm-no",
        onclick: () => guarded(() => confirm(q, false)) }, "Não, repetir")));
  } else {
    if (reask) {
      promptUrl = reask.audio_url || q.audio_url;
      nodes.push(el("p", { class: "reask", id: "reask" }, reask.prompt));
    }
    nodes.push(listenButton(q.audio_url, "Ouvir a pergunta"),
      micBlock(next.attempt > 1 ? "Responder de novo falando" : "Responder falando",
        (wav) => guarded(() => uploadAnswer(q, wav))));
  }
  const openTap = !!(reask && reask.level === "buttons") || !canRecord();
  const tap = el("details", { class: "tap", id: "tap", open: openTap },
    el("summary", {}, pending ? "Ou escolha a resposta certa tocando" : "Prefiro responder tocando"),
    tapAnswers(q, (body) => guarded(() => choose(q, body)), (msg) => showError(msg)));
  nodes.push(tap);
  show(...nodes);
  playPrompt(promptUrl);
}

async function uploadAnswer(q, wav) {
  const form = new FormData();
  form.append("audio", wav, `${q.name}.wav`);
  let res;
  try {
    res = await sessionCall("POST", `/answers/${encodeURIComponent(q.name)}`, { form });
  } catch (err) {
    if (err instanceof ApiError && err.status === 503 && /speech|recogni/i.test(String(err.detail || ""))) {
      const tap = document.getElementById("tap");
      if (tap) tap.open = true;
      throw new ApiError("O reconhecimento de voz não está disponível agora. Responda tocando nas opções.", 503, null);
    }
    if (err instanceof ApiError && err.status === 409) return loadNext(); // another tab moved on
    throw err;
  }
  setStatus("");
  describeResult(res);
  return loadNext();
}

/** Turn an answer response into the line shown on the next screen. */
function describeResult(res) {
  const heard = res.transcript ? `Ouvi: “${res.transcript}”. ` : "";
  if (res.decision === "accept") flash = { kind: "ok", text: `✓ Resposta guardada: ${res.label ?? res.value ?? res.code}` };
  else if (res.decision === "give_up") flash = { kind: "info", text: "Tudo bem, vamos para a próxima pergunta." };
  else if (res.decision === "confirm" && res.understood === false)
    flash = { kind: "info", text: res.prompt || "Não entendi. Diga sim ou não, ou toque num botão." };
  else if (res.decision === "confirm") flash = res.transcript ? { kind: "info", text: heard.trim() } : null;
  // Not understood at all: the re-ask prompt on the next screen says so (no second message).
  else flash = res.understood ? { kind: "info", text: `${heard}Não tenho certeza do que você disse.` } : null;
}

/** The read-back answered by voice ("sim" / "não"); an unclear reply keeps the value pending. */
async function confirmByVoice(q, wav) {
  const form = new FormData();
  form.append("audio", wav, `${q.name}-confirm.wav`);
  const res = await sessionCall("POST", `/answers/${encodeURIComponent(q.name)}/confirm`, { form });
  setStatus("");
  describeResult(res);
  return loadNext();
}

async function confirm(q, accept) {
  const res = await sessionCall("POST", `/answers/${encodeURIComponent(q.name)}/confirm`, { json: { accept } });
  describeResult(res);
  return loadNext();
}

async function choose(q, body) {
  const res = await sessionCall("POST", `/answers/${encodeURIComponent(q.name)}/choose`, { json: body });
  if (res && res.stored) describeResult(res);
  return loadNext();
}

function renderDone(next) {
  setProgress(next.progress);
  stopPrompt();
  show(flashNode(), el("h2", { id: "done" }, "Obrigado!"),
    el("p", {}, "Suas respostas foram registradas. Elas ajudam a melhorar o atendimento na sua unidade de saúde."),
    session.granted && session.granted.contact_again ? phoneForm() : null,
    withdrawBlock());
}

/**
 * After "contact me again": the phone number, sent to POST /identifier (the server keeps only a keyed
 * hash of it, which also lets the person later ask for a copy or deletion of their answers).
 */
function phoneForm() {
  const input = el("input", { id: "phone", type: "tel", autocomplete: "tel", inputmode: "tel",
    placeholder: "(11) 91234-5678" });
  const box = el("div", { class: "stack", id: "phone-box" },
    el("label", { for: "phone" }, "Seu telefone com DDD, para a equipe entrar em contato"), input);
  const send = () => guarded(async () => {
    if (input.value.replace(/\D/g, "").length < 10) { showError("Digite o telefone com DDD (10 ou 11 dígitos)."); return; }
    await sessionCall("POST", "/identifier", { json: { identifier_kind: "phone", identifier: input.value.trim() } });
    clear(box).append(el("p", { class: "understood", id: "phone-saved" }, "✓ Telefone registrado, guardado de forma protegida."));
  });
  box.append(el("button", { type: "button", class: "primary", id: "phone-send", onclick: send }, "Enviar telefone"));
  return box;
}

/** "Delete my answers" (LGPD): asks once more, then DELETE /api/sessions/{id} erases everything. */
function withdrawBlock() {
  const box = el("div", { class: "stack", style: "margin-top:1.5rem" });
  const ask = el("button", { type: "button", class: "danger", id: "withdraw" }, "Apagar minhas respostas");
  ask.addEventListener("click", () => {
    clear(box).append(el("p", {}, "Tem certeza? Isso apaga tudo o que você respondeu nesta pesquisa."),
      el("div", { class: "row" },
        el("button", { type: "button", class: "danger", id: "withdraw-yes", onclick: () => guarded(async () => {
          await sessionCall("DELETE", "");
          forgetSession();
          show(el("h2", { id: "withdrawn" }, "Respostas apagadas"),
            el("p", {}, "Tudo o que você respondeu nesta pesquisa foi apagado."));
        }) }, "Sim, apagar tudo"),
        el("button", { type: "button", onclick: () => clear(box).append(ask) }, "Não, manter")));
  });
  box.append(ask);
  return box;
}

start();
