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

function setData(chart, labels, series) {
  // The end-to-end chart changes every 10 s only: an unchanged chart is not redrawn.
  const key = JSON.stringify([labels, series]);
  if (chart.$drawn === key) return;
  chart.$drawn = key;
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
  const labels = series.t.slice(from).map(timeLabel);
  setData(charts.depth, labels, cut(depth, from));
  setData(charts.orders, labels, cut(orders, from));
  const e2e = series.e2e;
  const lines = [["p50", e2e.p50_ms], ["p95", e2e.p95_ms], ["p99", e2e.p99_ms]];
  const e2eFrom = firstWithData(lines.map(([, v]) => v), e2e.t.length, 6);
  setData(charts.e2e, e2e.t.slice(e2eFrom).map(timeLabel), cut(lines, e2eFrom));
}
