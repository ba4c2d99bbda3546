// The console's main loop: polls /api/overview, /api/series and /api/dead-letters every
// second and hands each document to its panel; every figure on the page comes from /api/.
import { getJson, token, setToken } from "./api.js";
import { el, time, patchChildren } from "./format.js";
import { renderPipeline } from "./pipeline.js";
import { renderCharts } from "./charts.js";
import { renderDeadLetters } from "./deadletters.js";
import { showOrder } from "./order.js";

let readOnly = true;
let lastDeadLetters = null;
let busy = false;

function renderHeader(overview) {
  const state = document.getElementById("broker-state");
  state.textContent = overview.broker.ok ? `broker ok · vhost ${overview.vhost}` : "broker unreachable";
  state.className = `pill ${overview.broker.ok ? "good" : "bad"}`;
  document.getElementById("updated").textContent = `updated ${time(overview.at)}`;
  readOnly = overview.read_only;
  document.getElementById("read-only").hidden = !readOnly;
  document.getElementById("token-form").hidden = readOnly;
  const warnings = [overview.broker.error, ...overview.broker.warnings].filter(Boolean);
  patchChildren(document.getElementById("warnings"), warnings.map((w) => el("div", {}, w)));
}

let drawn = "";
// Redrawn only when the document (or the access mode) changed, so buttons stay put.
function drawDeadLetters(force = false) {
  if (!lastDeadLetters) return;
  const key = `${readOnly}|${JSON.stringify(lastDeadLetters)}`;
  if (key === drawn && !force) return;
  drawn = key;
  renderDeadLetters(document.getElementById("dead-letters"), lastDeadLetters, {
    readOnly, onChange: (refetch) => (refetch ? tick() : drawDeadLetters(true)),
  });
}

async function tick() {
  if (busy) return;
  busy = true;
  try {
    const [overview, series, deadLetters] = await Promise.all([
      getJson("/api/overview"), getJson("/api/series"), getJson("/api/dead-letters")]);
    if (overview.ok) {
      renderHeader(overview.body);
      renderPipeline(document.getElementById("pipeline"), overview.body);
    }
    if (series.ok) renderCharts(series.body);
    if (deadLetters.ok) lastDeadLetters = deadLetters.body;
    drawDeadLetters();
    document.body.dataset.ticks = String(Number(document.body.dataset.ticks || 0) + 1);
  } catch (error) {
    document.getElementById("broker-state").textContent = "console unreachable";
    document.getElementById("broker-state").className = "pill bad";
  } finally {
    busy = false;
  }
}

function setUp() {
  const input = document.getElementById("token");
  input.value = token();
  const note = () => { document.getElementById("token-state").textContent = token() ? "set for this tab" : "replay and purge need it"; };
  note();
  input.addEventListener("change", () => { setToken(input.value.trim()); note(); });
  document.getElementById("token-form").addEventListener("submit", (e) => e.preventDefault());
  document.getElementById("order-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const id = document.getElementById("order-id").value.trim();
    if (id) {
      location.hash = `order=${id}`;
      showOrder(document.getElementById("order"), id);
    }
  });
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("order")) {
    document.getElementById("order-id").value = hash.get("order");
    showOrder(document.getElementById("order"), hash.get("order"));
  }
  tick();
  setInterval(tick, 1000);
}

setUp();
