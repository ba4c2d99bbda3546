// Dead-letters panel: GET /api/dead-letters grouped by queue, kind and reason; a group
// opens to its messages; replay one or a group, purge a DLQ (POST, with the admin token).
import { el, num, time } from "./format.js";
import { postAction } from "./api.js";

const open = new Set();  // groups the user opened, kept across refreshes
let state = { readOnly: true, onChange: () => {} };

function groupKey(g) {
  return `${g.queue}|${g.kind}|${g.reason}`;
}

function showAudit(title, result) {
  const box = document.getElementById("dead-letter-audit");
  box.hidden = false;
  const lines = result.body && result.body.audit ? result.body.audit
    : [result.body && result.body.error ? `${result.status} ${result.body.error.code}: ${result.body.error.message}${result.body.error.details ? " (" + result.body.error.details + ")" : ""}` : `HTTP ${result.status}`];
  box.className = `audit ${result.ok ? "ok" : "bad"}`;
  box.replaceChildren(el("div", { class: "audit-title" }, title, el("button", { class: "link", onclick: () => { box.hidden = true; } }, "close")),
    el("pre", { "data-field": "audit" }, lines.join("\n")));
}

async function act(title, path, payload) {
  const result = await postAction(path, payload);
  showAudit(title, result);
  state.onChange(true);
}

function actionButton(label, handler, extra = {}) {
  return el("button", {
    ...extra,
    disabled: state.readOnly,
    title: state.readOnly ? "read-only console: no admin token configured" : null,
    onclick: (e) => { e.stopPropagation(); handler(); },
  }, label);
}

function messageRow(queue, m) {
  return el("div", { class: "letter", "data-message-id": m.message_id },
    el("div", { class: "letter-head" },
      el("code", {}, m.message_id || "(no message_id)"),
      el("span", { class: "muted" }, ` ${m.type || "?"} · order ${m.correlation_id || "–"} · replayed ${m.replay_count}×`),
      m.message_id ? actionButton("Replay", () => act(`replay ${m.message_id}`, "/api/dead-letters/replay", { queue, message_id: m.message_id }), { "data-action": "replay-message" }) : null),
    el("dl", { class: "record" }, Object.entries(m.headers).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
    el("pre", { class: "body" }, `${m.body_bytes} bytes: ${m.body_preview}`));
}

export function renderDeadLetters(root, doc, options) {
  state = options;
  const dlqs = el("div", { class: "dlqs" }, doc.dlqs.map((d) =>
    el("div", { class: `dlq ${d.messages > 0 ? "bad" : ""}`, "data-dlq": d.dlq },
      el("code", {}, d.dlq), el("span", { class: "big" }, ` ${num(d.messages)}`),
      d.messages > d.browsed ? el("span", { class: "muted" }, ` (first ${d.browsed} shown)`) : null,
      d.error ? el("span", { class: "bad" }, ` ${d.error}`) : null,
      d.messages > 0 ? actionButton("Purge", () => {
        if (confirm(`Delete all ${d.messages} dead letters of ${d.dlq} for good?`)) act(`purge ${d.dlq}`, "/api/dead-letters/purge", { queue: d.queue });
      }, { "data-action": "purge" }) : null)));
  if (doc.groups.length === 0) {
    root.replaceChildren(dlqs, el("p", { class: "muted empty" }, "No dead letters. Poison and exhausted messages appear here with their reason."));
    return;
  }
  const table = el("table", { class: "groups" },
    el("thead", {}, el("tr", {}, ["queue", "kind", "reason", "count", "first failed", "last failed", ""].map((h) => el("th", {}, h)))),
    el("tbody", {}, doc.groups.flatMap((g) => {
      const key = groupKey(g);
      const isOpen = open.has(key);
      const row = el("tr", { class: "group", "data-group": key, onclick: () => { if (isOpen) open.delete(key); else open.add(key); state.onChange(false); } },
        el("td", {}, el("span", { class: "chevron" }, isOpen ? "▾ " : "▸ "), g.queue),
        el("td", {}, el("span", { class: `badge ${g.kind === "poison" ? "bad" : "warn"}` }, g.kind)),
        el("td", { class: "reason", "data-field": "reason" }, g.reason || "(no failure record)"),
        el("td", { class: "count" }, num(g.count)),
        el("td", {}, time(g.first_failed_at)),
        el("td", {}, time(g.last_failed_at)),
        el("td", {}, actionButton(`Replay ${g.count}`, () => act(`replay group ${g.kind}: ${g.reason}`, "/api/dead-letters/replay", { queue: g.queue, kind: g.kind, reason: g.reason }), { "data-action": "replay-group" })));
      if (!isOpen) return [row];
      return [row, el("tr", { class: "letters" }, el("td", { colspan: 7 }, g.messages.map((m) => messageRow(g.queue, m))))];
    })));
  root.replaceChildren(dlqs, table);
}
