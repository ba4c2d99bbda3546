// Order panel: GET /api/orders/{id} as a timeline (event, time, emitting service, time since
// the previous stage, trace id) and the notification text.
import { el, ms, time } from "./format.js";
import { getJson } from "./api.js";

const LABELS = {
  OrderPlaced: "placed", InventoryReserved: "reserved", InventoryRejected: "rejected", NotificationSent: "notified",
};

export function renderOrder(root, order) {
  // replaceChildren would print a null as the text "null": only the parts that exist.
  root.replaceChildren(...[
    el("div", { class: "order-head" },
      el("div", {}, "order ", el("code", {}, order.order_id)),
      el("div", {}, "trace ", el("code", { "data-field": "trace_id" }, order.trace_id || "–"),
        el("span", { class: "muted" }, "  grep it in the services' logs")),
      order.outcome ? el("span", { class: `badge ${order.outcome === "confirmed" ? "good" : "bad"}` }, order.outcome) : el("span", { class: "badge" }, "in progress")),
    el("ol", { class: "timeline" }, order.events.map((e) =>
      el("li", { "data-stage": LABELS[e.type] || e.type },
        el("span", { class: "stage" }, LABELS[e.type] || e.type),
        el("span", { class: "event" }, e.type),
        el("span", { class: "when" }, time(e.at)),
        el("span", { class: "service" }, e.service || "?"),
        el("span", { class: "delta" }, e.since_previous_ms === null ? "" : `+${ms(e.since_previous_ms)}`)))),
    order.reason ? el("p", {}, "rejected: ", el("em", {}, order.reason)) : null,
    order.note ? el("p", { class: "muted", "data-field": "source" }, order.note) : null,
    order.notification ? el("blockquote", { "data-field": "notification" }, order.notification) : null,
  ].filter(Boolean));
}

export async function showOrder(root, id) {
  const answer = await getJson(`/api/orders/${encodeURIComponent(id)}`);
  if (!answer.ok) {
    root.replaceChildren(el("p", { class: "bad" }, answer.body && answer.body.error ? `${answer.body.error.message}: ${answer.body.error.details || ""}` : `HTTP ${answer.status}`));
    return false;
  }
  renderOrder(root, answer.body);
  return true;
}
