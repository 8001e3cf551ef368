/**
 * Small DOM helpers shared by both pages (no framework): build elements, clear a node, and play one
 * prompt at a time through a single <audio> element.
 */

/**
 * el("button", {class: "primary", onclick: fn, "aria-label": "..."}, "text", child, ...)
 * Attributes starting with "on" become listeners; null/false children are skipped.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

let player = null;
let settle = null; // resolves the pending playPrompt() promise when another prompt interrupts it

/**
 * Play a prompt's audio (stopping any other). Resolves true when it played to the end, false when the
 * browser refused (autoplay without a tap, no audio output, 404/503 from the server): the text is on
 * screen anyway, so a failed playback is never an error for the person.
 */
export function playPrompt(url) {
  stopPrompt();
  if (!url) return Promise.resolve(false);
  player = new Audio(url);
  const current = player;
  return new Promise((resolve) => {
    settle = resolve;
    current.onended = () => resolve(true);
    current.onerror = () => resolve(false);
    current.play().catch(() => resolve(false));
  });
}

export function stopPrompt() {
  if (player) {
    player.pause();
    player.onended = null;
    player = null;
  }
  if (settle) settle(false);
  settle = null;
}
