// The node page: the engine's availability checked every few seconds (the page recovers without a reload),
// and the host's and the containers' resources live.
import { LineChart } from "./chart.js";
import { LiveSocket, api, el, showEngineBanner } from "./lib.js";

const availableNode = () => document.getElementById("daemon-available");
let wasAvailable = availableNode().textContent.trim() === "yes";

async function check() {
  let info;
  try {
    info = await api("GET", "/container-svc/daemon/info");
  } catch (error) {
    info = { available: false, error: error.message };
  }
  showEngineBanner(info.available, info.error);
  availableNode().textContent = info.available ? "yes" : "no";
  if (info.available && !wasAvailable) {
    // Back: fetch the page again for the details the engine could not give before.
    const page = new DOMParser().parseFromString(await (await fetch(location.href)).text(), "text/html");
    const fresh = page.getElementById("daemon");
    if (fresh) document.getElementById("daemon").replaceWith(document.adoptNode(fresh));
  }
  wasAvailable = info.available;
}

setInterval(check, 5000);

// --- resources: the host and every running container, live from ws/stats/ (one message a sampling round) ---
const MIB = 1024 ** 2;
const GIB = 1024 ** 3;
const resources = document.getElementById("node-resources");
const readings = document.getElementById("node-readings");
const cores = document.getElementById("node-cores");
const disk = document.getElementById("node-disk");
const statsBody = document.querySelector("#container-stats tbody");
const noStats = document.getElementById("no-container-stats");
let charts = null;

const orDash = (value, format) => (value === null || value === undefined ? "-" : format(value));
const percent = (value) => `${value.toFixed(1)} %`;
const bytes = (value) => (value >= GIB ? `${(value / GIB).toFixed(2)} GiB` : `${(value / MIB).toFixed(1)} MiB`);
const rate = (value) => (value >= MIB ? `${(value / MIB).toFixed(1)} MiB/s` : `${(value / 1024).toFixed(1)} KiB/s`);

// The axes need the host's size, which the first message brings.
function makeCharts(node) {
  const cores = Math.max(1, node.cpuPercentPerCore.length);
  charts = {
    cpu: new LineChart({ label: "Host CPU", max: 100, format: percent }),
    memory: new LineChart({ label: "Host memory used", max: node.memoryTotalBytes || GIB, format: bytes }),
    containers: new LineChart({ label: "Containers' CPU (100 % is one core)", max: cores * 100, format: percent }),
  };
  document.getElementById("node-charts").append(charts.cpu.root, charts.memory.root, charts.containers.root);
}

function coreReading(value, index) {
  return el(
    "span",
    { class: "core", "data-core": String(index) },
    el("meter", { min: 0, max: 100, value: value ?? 0 }),
    el("span", { class: "core-value", text: `cpu${index} ${orDash(value, percent)}` }),
  );
}

function diskReading(root) {
  if (!root) return "Engine data root: not readable from here";
  return `Engine data root ${root.path}: ${bytes(root.usedBytes)} used of ${bytes(root.totalBytes)}, ${bytes(root.freeBytes)} free`;
}

function statsRow(row) {
  const memory = `${bytes(row.memoryBytes)} (${row.memoryPercent.toFixed(1)} %)`;
  return el(
    "tr",
    { "data-id": row.containerId },
    el("td", {}, el("a", { href: `/containers/${row.containerId}/`, text: row.name || row.containerId.slice(0, 12) })),
    el("td", { class: "cpu", text: orDash(row.cpuPercent, percent) }),
    el("td", { class: "memory", text: memory }),
    el("td", { text: orDash(row.netRxBytesPerSecond, rate) }),
    el("td", { text: orDash(row.netTxBytesPerSecond, rate) }),
    el("td", { text: orDash(row.blockReadBytesPerSecond, rate) }),
    el("td", { text: orDash(row.blockWriteBytesPerSecond, rate) }),
    el("td", { text: String(row.pids) }),
  );
}

// The charts begin with the collector's last minutes (GET node/stats/recent), drawn before the first live round;
// every point is timed by the server's clock. Rounds that come while those are fetched wait in `waiting`.
let waiting = null;
let clockOffset = 0; // the server's clock less this one's, from the first round's moment as it arrives

async function backfill(firstAt) {
  let recent = { points: [] };
  try {
    recent = await api("GET", "/container-svc/node/stats/recent");
  } catch {
    // the live rounds alone, then
  }
  const drawn = recent.points.filter(([at]) => at * 1000 < firstAt);
  for (const [at, cpu, memory, containersCpu] of drawn) pushPoint(at * 1000, cpu, memory, containersCpu);
  resources.dataset.backfilled = String(drawn.length);
  const held = waiting;
  waiting = null;
  held.forEach(showStats);
}

function pushPoint(at, cpu, memory, containersCpu) {
  charts.cpu.push(at, cpu);
  charts.memory.push(at, memory);
  charts.containers.push(at, containersCpu);
}

function showStats(batch) {
  const node = batch.node;
  if (node.memoryTotalBytes === null) return; // the collector has not read the host yet
  if (waiting) {
    waiting.push(batch);
    return;
  }
  const at = Date.parse(batch.takenAt);
  if (!charts) {
    clockOffset = at - Date.now();
    makeCharts(node);
    waiting = [batch];
    backfill(at);
    return;
  }
  const used = node.memoryTotalBytes - node.memoryAvailableBytes;
  const containersCpu = batch.stats.reduce((sum, row) => sum + (row.cpuPercent || 0), 0);
  pushPoint(at, node.cpuPercent, used, containersCpu);
  const load = node.load ? `${node.load.one} ${node.load.five} ${node.load.fifteen}` : "-";
  readings.textContent =
    `CPU ${orDash(node.cpuPercent, percent)} of ${node.cpuPercentPerCore.length} cores · load ${load} · ` +
    `memory ${bytes(used)} of ${bytes(node.memoryTotalBytes)} · ${batch.stats.length} running`;
  cores.replaceChildren(...node.cpuPercentPerCore.map(coreReading));
  disk.textContent = diskReading(node.disk);
  const rows = [...batch.stats].sort((a, b) => (b.cpuPercent ?? -1) - (a.cpuPercent ?? -1));
  statsBody.replaceChildren(...rows.map(statsRow));
  noStats.hidden = rows.length > 0;
  resources.dataset.state = "live";
}

if (resources) {
  new LiveSocket(() => "/ws/stats/", {
    onMessage: (message) => message.type === "stats.batch" && showStats(message),
    onState: (state) => {
      if (state !== "live") resources.dataset.state = state;
    },
  });
  setInterval(() => charts && Object.values(charts).forEach((chart) => chart.draw(Date.now() + clockOffset)), 1000);
}
