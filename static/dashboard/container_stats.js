// The container page's resources: CPU, memory, network and block IO charts over a range picked on the page
// (15 min to 7 d), drawn from the stored history at the range's step; the live ranges then go on with the
// samples of ws/stats/. Every point is timed by the server's clock (history and samples alike).
import { LineChart } from "./chart.js";
import { LiveSocket, api, jsonData } from "./lib.js";

const MIB = 1024 ** 2;
const GIB = 1024 ** 3;
const REFRESH_MS = 60 * 1000; // a range drawn from history alone is fetched again this often
const root = document.getElementById("container-resources");
const readings = document.getElementById("container-readings");
const status = document.getElementById("chart-status");
const frame = jsonData("container-charts-data");
const id = root ? root.dataset.id : "";
// The page was rendered at the server's frame.now: the difference to this clock (less the page's load time).
const clockOffset = frame ? Date.parse(frame.now) - Date.now() : 0;
const serverNow = () => Date.now() + clockOffset;
let charts = null;
let current = null; // the range shown
let asked = 0; // numbers the history requests: only the last one asked is drawn

const orDash = (value, format) => (value === null || value === undefined ? "-" : format(value));
const percent = (value) => `${value.toFixed(1)} %`;
const bytes = (value) => (value >= GIB ? `${(value / GIB).toFixed(2)} GiB` : `${(value / MIB).toFixed(1)} MiB`);
const rate = (value) => (value >= MIB ? `${(value / MIB).toFixed(1)} MiB/s` : `${(value / 1024).toFixed(1)} KiB/s`);

function makeCharts() {
  const cpu = new LineChart({ label: "CPU (100 % is one core)", max: 100, format: percent, autoMax: true });
  if (frame.cpuLimit) cpu.setCeiling(frame.cpuLimit * 100, `limit ${frame.cpuLimit} CPUs`);
  else cpu.setCeiling(frame.cores * 100, `host ${frame.cores} cores`);
  const memory = new LineChart({ label: "Memory", max: MIB, format: bytes, autoMax: true });
  if (frame.memoryLimitBytes) memory.setCeiling(frame.memoryLimitBytes, `limit ${bytes(frame.memoryLimitBytes)}`);
  memory.setMarks(
    frame.oomKills.map((at) => ({ time: Date.parse(at), title: `OOM kill at ${new Date(at).toLocaleString()}` })),
    "OOM kill",
  );
  charts = {
    cpu,
    memory,
    network: new LineChart({ label: "Network", max: 1024, format: rate, autoMax: true, series: ["in", "out"] }),
    io: new LineChart({ label: "Block IO", max: 1024, format: rate, autoMax: true, series: ["read", "write"] }),
  };
  for (const [key, chart] of Object.entries(charts)) chart.root.dataset.chart = key;
  document.getElementById("container-charts").append(...Object.values(charts).map((chart) => chart.root));
}

// Without a limit the memory chart's ceiling is the host's memory, which every point and sample carries.
function hostMemoryCeiling(memoryLimitBytes) {
  if (!frame.memoryLimitBytes && memoryLimitBytes) {
    charts.memory.setCeiling(memoryLimitBytes, `host memory ${bytes(memoryLimitBytes)}`);
  }
}

function drawAll() {
  const now = serverNow();
  for (const chart of Object.values(charts)) chart.draw(now);
}

function pushPoint(time, point) {
  charts.cpu.push(time, point.cpuPercentMean);
  charts.memory.push(time, point.memoryBytesMean);
  charts.network.push(time, point.netRxBytesPerSecond, point.netTxBytesPerSecond);
  charts.io.push(time, point.blockReadBytesPerSecond, point.blockWriteBytesPerSecond);
}

// The history's points come as arrays in the order of its `fields` (compact for a day of them): made objects here.
function pointObjects(history) {
  const { fields, points } = history;
  return points.map((values) => Object.fromEntries(fields.map((field, index) => [field, values[index]])));
}

async function showRange(range) {
  const mine = ++asked;
  for (const button of document.querySelectorAll("#chart-ranges button")) {
    button.setAttribute("aria-pressed", String(button.dataset.range === range.key));
  }
  root.dataset.range = range.key;
  status.textContent = "Loading…";
  const since = new Date(serverNow() - range.seconds * 1000).toISOString();
  let points = [];
  try {
    const query = `id=${id}&step=${range.step}&since=${encodeURIComponent(since)}`;
    points = pointObjects(await api("GET", `/container-svc/container/stats/history?${query}`));
    status.textContent = "";
  } catch (error) {
    status.textContent = `History: ${error.message}`;
  }
  if (mine !== asked) return; // another range was picked meanwhile
  const liveRoom = range.live ? Math.ceil(range.seconds / frame.intervalSeconds) : 0;
  // A missing step or two is noise; more is a time without readings (the container stopped, the service was down).
  const gapMs = 3 * Math.max(range.step, frame.intervalSeconds) * 1000;
  for (const chart of Object.values(charts)) {
    chart.reset({ windowMs: range.seconds * 1000, capacity: points.length + liveRoom + 1, gapMs });
  }
  for (const point of points) pushPoint(point.at * 1000, point);
  if (points.length) hostMemoryCeiling(points[points.length - 1].memoryLimitBytes);
  current = range;
  drawAll();
  root.dataset.drawn = range.key;
}

function showSample(batch) {
  const sample = batch.stats.find((row) => row.containerId === id);
  if (!sample) return; // not running (or not sampled yet)
  hostMemoryCeiling(sample.memoryLimitBytes);
  if (current && current.live) {
    const time = Date.parse(sample.takenAt);
    charts.cpu.push(time, sample.cpuPercent);
    charts.memory.push(time, sample.memoryBytes);
    charts.network.push(time, sample.netRxBytesPerSecond, sample.netTxBytesPerSecond);
    charts.io.push(time, sample.blockReadBytesPerSecond, sample.blockWriteBytesPerSecond);
  }
  readings.textContent =
    `CPU ${orDash(sample.cpuPercent, percent)} · memory ${bytes(sample.memoryBytes)} of ` +
    `${bytes(sample.memoryLimitBytes)} · network in ${orDash(sample.netRxBytesPerSecond, rate)}, ` +
    `out ${orDash(sample.netTxBytesPerSecond, rate)} · disk read ${orDash(sample.blockReadBytesPerSecond, rate)}, ` +
    `write ${orDash(sample.blockWriteBytesPerSecond, rate)} · ${sample.pids} PIDs`;
  root.dataset.state = "live";
}

function start() {
  makeCharts();
  const ranges = new Map(frame.ranges.map((range) => [range.key, range]));
  document.getElementById("chart-ranges").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-range]");
    if (button) showRange(ranges.get(button.dataset.range));
  });
  showRange(frame.ranges[0]);
  new LiveSocket(() => "/ws/stats/", {
    onMessage: (message) => message.type === "stats.batch" && showSample(message),
    onState: (state) => {
      if (state !== "live") root.dataset.state = state;
    },
  });
  setInterval(() => current && current.live && drawAll(), 1000);
  setInterval(() => current && !current.live && showRange(current), REFRESH_MS);
}

if (root && frame) start();
