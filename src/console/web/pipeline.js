// Pipeline panel: the topology of SPEC section 3 as rows "route -> queue -> consumer",
// each queue with its live figures and each service with its replicas. A function of
// GET /api/overview.
import { el, num, rate, eta, patchChildren } from "./format.js";

const ROUTES = {
  "inventory.order-placed": "order.placed",
  "notification.inventory-events": "inventory.reserved · inventory.rejected",
  "ingress.order-status": "inventory.* · notification.sent",
};
let peak = 1;  // the largest backlog seen: bars compare with it, as orderflowctl status does

function replicaList(service, consumers) {
  if (!service || service.replicas === null) return el("div", { class: "muted" }, "replicas unknown");
  if (service.replicas.length === 0 && consumers > 0) {
    // The broker counts the consumer already; its management API lists connections later.
    return el("div", { class: "muted", "data-replica": "pending" }, `${consumers} consuming (connection not listed yet)`);
  }
  if (service.replicas.length === 0) {
    return el("div", { class: "replica down", "data-replica": "none" }, "no replica connected");
  }
  return el("ul", { class: "replicas" }, service.replicas.map((r) =>
    el("li", {
      class: `replica ${r.consuming ? "consuming" : "idle"}`,
      title: `connections: ${r.connections.join(", ")}`,
      "data-replica": `${r.host}/${r.pid}`,
    }, el("span", { class: "dot" }), `${r.host} pid ${r.pid}`,
      el("span", { class: "muted" }, r.consuming ? ` consuming ${r.consumes.join(", ")}` : " connected, not consuming"))));
}

function serviceBox(name, service, role, consumers = 0) {
  const down = service && service.replicas && service.replicas.length === 0 && consumers === 0;
  return el("div", { class: `service${down ? " down" : ""}`, "data-service": name },
    el("div", { class: "service-name" }, name, el("span", { class: "muted" }, ` ${role}`)),
    replicaList(service, consumers));
}

function queueCard(q) {
  const backlog = (q.ready || 0) + (q.unacked || 0);
  peak = Math.max(peak, backlog);
  const trend = q.net_rate === null ? "" : q.net_rate < -0.5 ? "draining" : q.net_rate > 0.5 ? "filling" : "";
  const noConsumer = q.consumers === 0;
  const classes = ["queue", trend, noConsumer ? "no-consumer" : "", q.exists ? "" : "missing"].join(" ");
  return el("div", { class: classes, "data-queue": q.name },
    el("div", { class: "queue-head" },
      el("span", { class: "queue-name" }, q.name),
      noConsumer ? el("span", { class: "badge bad" }, "no consumer") : el("span", { class: "badge" }, `${q.consumers} consumer${q.consumers === 1 ? "" : "s"}`)),
    el("div", { class: "backlog" },
      el("span", { class: "big", "data-field": "ready" }, num(q.ready)),
      el("span", { class: "muted" }, " ready"),
      el("span", { class: "trend" }, trend === "draining" ? " ▼ draining" : trend === "filling" ? " ▲ filling" : "")),
    el("div", { class: "bar" }, el("div", { class: "fill", style: `width:${Math.min(100, (100 * backlog) / peak)}%` })),
    el("dl", { class: "figures" },
      el("dt", {}, "unacked"), el("dd", { "data-field": "unacked", title: q.unacked_stale ? "the management API's record lags the exact depth" : null }, num(q.unacked), q.unacked_stale ? " ?" : ""),
      el("dt", {}, "in"), el("dd", { "data-field": "in_rate" }, rate(q.in_rate)),
      el("dt", {}, "out"), el("dd", { "data-field": "out_rate" }, rate(q.out_rate)),
      el("dt", {}, "drained in"), el("dd", { "data-field": "eta" }, eta(q.eta_seconds))),
    el("div", { class: "side-queues" },
      el("span", { class: `side ${q.retry_ready > 0 ? "warn" : ""}`, "data-field": "retry_ready" }, `retry ${num(q.retry_ready)}`),
      el("a", { class: `side ${q.dlq_ready > 0 ? "bad" : ""}`, href: "#dead-letters-panel", "data-field": "dlq_ready" }, `DLQ ${num(q.dlq_ready)}`)));
}

export function renderPipeline(root, overview) {
  const services = Object.fromEntries(overview.services.map((s) => [s.name, s]));
  const rows = overview.queues.map((q) =>
    el("div", { class: "row" },
      el("div", { class: "route" }, el("code", {}, ROUTES[q.name] || ""), el("span", { class: "arrow" }, "→")),
      queueCard(q),
      el("span", { class: "arrow" }, "→"),
      serviceBox(q.service, services[q.service], q.service === "ingress" ? "order-status projection" : "consumer", q.consumers)));
  const stream = overview.stream;
  rows.push(el("div", { class: "row" },
    el("div", { class: "route" }, el("code", {}, "#  (every event)"), el("span", { class: "arrow" }, "→")),
    el("div", { class: "queue stream", "data-queue": stream.name },
      el("div", { class: "queue-head" }, el("span", { class: "queue-name" }, stream.name), el("span", { class: "badge" }, "stream")),
      el("div", { class: "backlog" },
        el("span", { class: "muted" }, "read up to offset "),
        el("span", { class: "big", "data-field": "last_offset" }, num(stream.last_offset))),
      el("div", { class: "muted", "data-field": "messages", title: "RabbitMQ 3.10 refreshes a stream's count only now and then; the offset is exact" },
        `broker's count: ${num(stream.messages)} messages (refreshed only now and then)`),
      el("div", { class: "muted" }, `seen by the console: ${num(overview.seen.placed)} placed · ${num(overview.seen.reserved)} reserved · ${num(overview.seen.rejected)} rejected · ${num(overview.seen.notified)} notified`)),
    el("span", { class: "arrow" }, "→"),
    serviceBox("analytics", services.analytics, "stream reader, this console")));
  // Built whole, put in place by patching: only the figures that changed touch the page.
  patchChildren(root, [
    el("div", { class: "entry" },
      el("div", { class: "client" }, "clients ", el("code", {}, "POST /orders")),
      el("span", { class: "arrow" }, "→"),
      serviceBox("ingress", services.ingress, "publishes OrderPlaced"),
      el("span", { class: "arrow" }, "→"),
      el("div", { class: "exchange" }, "exchange ", el("code", {}, "orders"), el("span", { class: "muted" }, " (topic)"))),
    el("div", { class: "rows" }, rows)]);
}
