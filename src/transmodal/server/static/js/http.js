/**
 * One place for HTTP calls from both pages: JSON in/out, FormData uploads, and errors turned into
 * readable Portuguese messages (the server answers errors as {"detail": "..."}; FastAPI's validation
 * errors carry a list there). Every failure is an ApiError with .status (0 = no connection).
 */

export class ApiError extends Error {
  constructor(message, status, detail) {
    super(message);
    this.status = status;
    this.detail = detail;
  }
}

/** Text of a {"detail": ...} body: a string as is, a validation list as "field: message; ...". */
export function detailText(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail))
    return detail.map((d) => `${(d.loc || []).slice(1).join(".") || "pedido"}: ${d.msg || d}`).join("; ");
  if (detail && typeof detail === "object") return JSON.stringify(detail);
  return "";
}

const STATUS_TEXT = {
  400: "Resposta não aceita.",
  401: "É preciso entrar de novo.",
  403: "Você não tem permissão para isto.",
  404: "Não encontrado. O link pode ter expirado.",
  410: "Esta sessão não existe mais.",
  413: "A gravação ficou grande demais. Tente uma resposta mais curta.",
  415: "O formato do áudio não foi aceito.",
  429: "Muitas tentativas seguidas. Aguarde um pouco.",
};

/** Whether trying the same request again may work (no connection, server trouble, rate limit). */
export function retryable(err) {
  return !(err instanceof ApiError) || err.status === 0 || err.status === 429 || err.status >= 500;
}

/**
 * fetch() wrapper. options: {json, form, headers, raw}. Returns parsed JSON (or the Response when
 * raw is true). Throws ApiError with a message fit to show a respondent.
 */
export async function request(method, url, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  let body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.form !== undefined) {
    body = options.form; // the browser sets the multipart boundary
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body, credentials: "same-origin" });
  } catch (err) {
    throw new ApiError("Sem conexão com o servidor. Verifique a internet e tente de novo.", 0, null);
  }
  if (!response.ok) {
    let detail = null;
    try { detail = (await response.json()).detail; } catch (err) { /* not JSON */ }
    const text = detailText(detail);
    const base = STATUS_TEXT[response.status] ||
      (response.status >= 500 ? "O servidor teve um problema." : "O pedido não foi aceito.");
    throw new ApiError(text ? `${base} (${text})` : base, response.status, detail);
  }
  if (options.raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("application/json") ? response.json() : response.text();
}
