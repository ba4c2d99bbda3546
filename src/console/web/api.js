// The console's only way to the server: its own /api/ (same origin, no other request).
const TOKEN_KEY = "orderflow-admin-token";

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}
export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
  const body = await response.json().catch(() => null);
  return { ok: response.ok, status: response.status, body };
}

// POST with the admin token; the answer's JSON whatever the status (errors carry the reason).
export async function postAction(path, payload) {
  const headers = { "Content-Type": "application/json" };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const response = await fetch(path, { method: "POST", headers, body: JSON.stringify(payload) });
  const body = await response.json().catch(() => null);
  return { ok: response.ok, status: response.status, body };
}
