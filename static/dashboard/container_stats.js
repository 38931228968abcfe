// The container page's resources: CPU and memory charts over 5 minutes (the history first, then live from
// ws/stats/) and the current network, disk and PIDs figures.
import { LineChart } from "./chart.js";
import { LiveSocket, api } from "./lib.js";

const MIB = 1024 ** 2;
const GIB = 1024 ** 3;
const WINDOW_MS = 5 * 60 * 1000;
const root = document.getElementById("container-resources");
const readings = document.getElementById("container-readings");
const id = root ? root.dataset.id : "";
let charts = null;
let history = [];

const orDash = (value, format) => (value === null || value === undefined ? "-" : format(value));
const percent = (value) => `${value.toFixed(1)} %`;
const bytes = (value) => (value >= GIB ? `${(value / GIB).toFixed(2)} GiB` : `${(value / MIB).toFixed(1)} MiB`);
const rate = (value) => (value >= MIB ? `${(value / MIB).toFixed(1)} MiB/s` : `${(value / 1024).toFixed(1)} KiB/s`);

// The axes need the host's cores and the container's memory limit, which the first live sample brings.
function makeCharts(cores, memoryLimit) {
  charts = {
    cpu: new LineChart({ label: "CPU (100 % is one core)", max: Math.max(1, cores) * 100, format: percent }),
    memory: new LineChart({ label: "Memory", max: memoryLimit || GIB, format: bytes }),
  };
  document.getElementById("container-charts").append(charts.cpu.root, charts.memory.root);
  for (const point of history) {
    const time = Date.parse(point.at);
    charts.cpu.push(time, point.cpuPercentMean);
    charts.memory.push(time, point.memoryBytesMean);
  }
}

function show(batch) {
  const sample = batch.stats.find((row) => row.containerId === id);
  if (!sample) return; // not running (or not sampled yet)
  if (!charts) makeCharts(batch.node.cpuPercentPerCore.length, sample.memoryLimitBytes);
  const now = Date.now();
  charts.cpu.push(now, sample.cpuPercent);
  charts.memory.push(now, sample.memoryBytes);
  readings.textContent =
    `CPU ${orDash(sample.cpuPercent, percent)} · memory ${bytes(sample.memoryBytes)} of ` +
    `${bytes(sample.memoryLimitBytes)} · network in ${orDash(sample.netRxBytesPerSecond, rate)}, ` +
    `out ${orDash(sample.netTxBytesPerSecond, rate)} · disk read ${orDash(sample.blockReadBytesPerSecond, rate)}, ` +
    `write ${orDash(sample.blockWriteBytesPerSecond, rate)} · ${sample.pids} PIDs`;
  root.dataset.state = "live";
}

async function start() {
  const since = new Date(Date.now() - WINDOW_MS).toISOString();
  try {
    const body = await api("GET", `/container-svc/container/stats/history?id=${id}&step=1&since=${encodeURIComponent(since)}`);
    history = body.points;
  } catch {
    history = []; // no history yet: the charts start from now
  }
  new LiveSocket(() => "/ws/stats/", {
    onMessage: (message) => message.type === "stats.batch" && show(message),
    onState: (state) => {
      if (state !== "live") root.dataset.state = state;
    },
  });
  setInterval(() => charts && Object.values(charts).forEach((chart) => chart.draw()), 1000);
}

if (root) start();
