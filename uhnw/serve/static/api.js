// The page's only door to the server: JSON over fetch with the session cookie, and the CSRF token on state changes.

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

// Kept in memory only (never in storage): the login answer gives it, GET /api/me gives it again after a reload.
let csrfToken = null;
export function setCsrf(token) { csrfToken = token || null; }

export function query(params = {}) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== null && value !== undefined && value !== "") q.set(key, value);
  const text = q.toString();
  return text ? `?${text}` : "";
}

export async function api(path, {method = "GET", body, params} = {}) {
  const headers = {Accept: "application/json"};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(path + query(params), {method, headers, credentials: "same-origin",
                                                      body: body === undefined ? undefined : JSON.stringify(body)});
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const detail = data && (typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail));
    // A 401 anywhere but the login itself means the session is over: the app shows the login form.
    if (response.status === 401 && path !== "/auth/login") window.dispatchEvent(new CustomEvent("session-expired"));
    throw new ApiError(response.status, detail);
  }
  return data;
}
