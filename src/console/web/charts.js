// Charts panel: three Chart.js line charts of GET /api/series (Chart.js comes from
// Debian's libjs-chart.js, served by the console itself).
const COLORS = ["#4e9af1", "#f5a524", "#e5484d", "#30a46c", "#8e4ec6"];
const charts = {};

function timeLabel(ms) {
  const d = new Date(ms);
  return d.toISOString().slice(11, 19);
}

function lineChart(canvas, yTitle) {
  return new Chart(canvas, {
    type: "line",
    data: { labels: [], datasets: [] },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      spanGaps: true,
      // What a redraw costs the browser is kept small (the page redraws every second while
      // the pipeline works on the same cores): straight segments, no rotated or measured
      // labels beyond a sample of them, datasets updated in place.
      normalized: true,
      elements: { point: { radius: 0 }, line: { borderWidth: 2, tension: 0 } },
      interaction: { mode: "index", intersect: false },
      scales: {
        x: { ticks: { maxTicksLimit: 5, maxRotation: 0, autoSkipPadding: 16, sampleSize: 8, color: "#8b949e" }, grid: { color: "#21262d" } },
        y: { beginAtZero: true, title: { display: true, text: yTitle, color: "#8b949e" }, ticks: { color: "#8b949e" }, grid: { color: "#21262d" } },
      },
      plugins: { legend: { labels: { color: "#c9d1d9", boxWidth: 12 } } },
    },
  });
}

// Whether two [label, values] lists hold the same numbers (an element-wise walk that stops at
// the first difference: cheaper than serialising 900 slots per series every second).
function same(a, b) {
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = b[i];
    if (x === y) continue;
    if (!Array.isArray(x) || !Array.isArray(y) || !same(x, y)) return false;
  }
  return true;
}

function setData(chart, labels, series) {
  // A chart whose labels and numbers did not change is not redrawn (the end-to-end chart
  // changes every 10 s only, an idle pipeline's charts once per bucket).
  if (same(chart.$labels, labels) && same(chart.$series, series)) return;
  chart.$labels = labels;
  chart.$series = series;
  chart.data.labels = labels;
  const datasets = chart.data.datasets;
  series.forEach(([label, data], i) => {
    if (datasets[i] && datasets[i].label === label) {
      datasets[i].data = data;  // the same dataset: no new controller
    } else {
      datasets[i] = { label, data, borderColor: COLORS[i % COLORS.length], backgroundColor: COLORS[i % COLORS.length] };
    }
  });
  datasets.length = series.length;
  chart.update("none");
}

// At most this many points per line: a chart is about 440 px wide, so 900 one-second slots
// drew two or three points per pixel, and Chart.js' cost per redraw grows with the points.
const MAX_POINTS = 225;

// Merges the one-second slots into buckets of `k` seconds aligned on the clock (so that a
// finished bucket keeps its value from one poll to the next and only the newest changes):
// a depth keeps its bucket's largest sample (a peak is not flattened), a rate the mean of
// its slots. A console younger than MAX_POINTS seconds keeps its slots as they are.
// Exported for the browser test, which checks it on 15 minutes of made-up slots.
export function bucketed(t, columns, reduce) {
  const k = Math.ceil(t.length / MAX_POINTS);
  if (k <= 1) return { t, columns };
  const starts = [];
  const out = columns.map(([name]) => [name, []]);
  let current = null;
  // The oldest bucket is left out while the window's edge cuts it: it would lose a slot, and
  // change, at every poll.
  const first = t.findIndex((ms) => (ms / 1000) % k === 0);
  for (let i = Math.max(0, first); i < t.length; i++) {
    const bucket = Math.floor(t[i] / 1000 / k);
    if (bucket !== current) {
      current = bucket;
      starts.push(bucket * k * 1000);
      out.forEach(([, v]) => v.push([]));
    }
    columns.forEach(([, values], c) => out[c][1].at(-1).push(values[i]));
  }
  return { t: starts, columns: out.map(([name, groups]) => [name, groups.map(reduce)]) };
}
const present = (group) => group.filter((v) => v !== null && v !== undefined);
export const largest = (group) => {
  const v = present(group);
  return v.length ? Math.max(...v) : null;
};
export const mean = (group) => {
  const v = present(group);
  return v.length ? Math.round((10 * v.reduce((a, b) => a + b, 0)) / v.length) / 10 : null;
};

// The index of the first slot with data (a sampled depth, an order, a latency), so that a
// console younger than 15 minutes draws what it has across the chart instead of a sliver at
// its right edge; at least `min` slots are kept.
function firstWithData(columns, length, min) {
  let first = length;
  for (const values of columns) {
    const i = values.findIndex((v) => v !== null && v !== 0);
    if (i >= 0) first = Math.min(first, i);
  }
  return Math.max(0, Math.min(first, length - min));
}

export function renderCharts(series) {
  if (typeof Chart === "undefined" || document.hidden) return;  // a hidden tab draws nothing
  charts.depth ||= lineChart(document.getElementById("chart-depth"), "messages");
  charts.orders ||= lineChart(document.getElementById("chart-orders"), "orders/s");
  charts.e2e ||= lineChart(document.getElementById("chart-e2e"), "ms");
  const depth = Object.entries(series.depth);
  const orders = Object.entries(series.orders);
  const from = firstWithData([...depth, ...orders].map(([, v]) => v), series.t.length, 60);
  const cut = (entries, start) => entries.map(([name, v]) => [name, v.slice(start)]);
  const t = series.t.slice(from);
  const d = bucketed(t, cut(depth, from), largest);
  const o = bucketed(t, cut(orders, from), mean);
  setData(charts.depth, d.t.map(timeLabel), d.columns);
  setData(charts.orders, o.t.map(timeLabel), o.columns);
  const e2e = series.e2e;
  const lines = [["p50", e2e.p50_ms], ["p95", e2e.p95_ms], ["p99", e2e.p99_ms]];
  const e2eFrom = firstWithData(lines.map(([, v]) => v), e2e.t.length, 6);
  setData(charts.e2e, e2e.t.slice(e2eFrom).map(timeLabel), cut(lines, e2eFrom));
}
