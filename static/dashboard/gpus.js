// The GPU page: per GPU, live charts of utilization and memory used over the last 5 minutes, and the compute
// processes with the containers they run in, from ws/gpus/. A reading NVML could not refresh, or none
// arriving for a few sampling intervals, is shown as stale rather than as current.
import { LineChart } from "./chart.js";
import { LiveSocket, el, jsonData } from "./lib.js";

const GIB = 1024 ** 3;
const data = jsonData("gpu-data");
const page = document.getElementById("gpu-page");
const staleNote = document.getElementById("gpu-stale");
const processBody = document.querySelector("#gpu-processes tbody");
const staleAfterMs = Math.max(3000, 3 * data.sampleSeconds * 1000);

const gib = (bytes) => `${(bytes / GIB).toFixed(1)} GiB`;
const percent = (value) => `${value} %`;
const orDash = (value, format) => (value === null || value === undefined ? "-" : format(value));

function gpuCard(gpu) {
  const utilization = new LineChart({ label: "Utilization", max: 100, format: percent });
  const memory = new LineChart({ label: "Memory used", max: gpu.memoryTotalBytes, format: gib });
  const readings = el("p", { class: "readings muted" });
  const root = el(
    "section",
    { class: "card gpu", "data-index": String(gpu.index) },
    el("h2", { text: `GPU ${gpu.index} · ${gpu.name}` }),
    el("div", { class: "mono muted", text: gpu.uuid }),
    readings,
    el("div", { class: "charts" }, utilization.root, memory.root),
  );
  document.getElementById("gpus").append(root);
  return { root, utilization, memory, readings };
}

const cards = new Map(data.inventory.gpus.map((gpu) => [gpu.index, gpuCard(gpu)]));
let lastTakenAt = null;
let lastArrival = Date.now(); // silence is counted from the page's load until the first sample
let sampleStale = "";
let received = false;

function readingsText(reading) {
  const memory = `${orDash(reading.memoryUsedBytes, gib)} of ${orDash(reading.memoryTotalBytes, gib)}`;
  const power = `${orDash(reading.powerDrawWatts, (w) => `${w} W`)} of ${orDash(reading.powerLimitWatts, (w) => `${w} W`)}`;
  const temperature = orDash(reading.temperatureCelsius, (c) => `${c} °C`);
  return `utilization ${orDash(reading.utilizationPercent, percent)} · memory ${memory} · ${temperature} · power ${power}`;
}

function processRow(gpuIndex, process) {
  const container = process.containerId
    ? el("a", { href: `/containers/${process.containerId}/`, text: process.containerName || process.containerId.slice(0, 12) })
    : el("span", { class: "muted", text: "not in a container" });
  return el(
    "tr",
    { "data-pid": String(process.pid) },
    el("td", { text: String(gpuIndex) }),
    el("td", { class: "mono", text: String(process.pid) }),
    el("td", {}, container),
    el("td", { text: orDash(process.usedMemoryBytes, gib) }),
  );
}

function showStale() {
  const silent = Date.now() - lastArrival > staleAfterMs;
  const reason = sampleStale || (silent ? `No reading for ${Math.round((Date.now() - lastArrival) / 1000)} s.` : "");
  staleNote.hidden = !reason;
  staleNote.textContent = reason ? `Stale: ${reason}` : "";
  if (page.dataset.state !== "none") page.dataset.state = reason ? "stale" : received ? "live" : "waiting";
  for (const card of cards.values()) card.root.classList.toggle("stale", Boolean(reason));
}

function show(sample) {
  lastArrival = Date.now();
  received = true;
  if (!sample.available && !sample.stale) {
    // The driver went away while the page was open.
    page.dataset.state = "none";
    sampleStale = sample.error || "No NVIDIA GPU on this node.";
    showStale();
    return;
  }
  if (page.dataset.state === "none") page.dataset.state = "live"; // the driver is back
  sampleStale = sample.stale ? sample.error || "NVML did not answer." : "";
  // A stale sample repeats the last good reading: charting it again would draw a flat line that was never read.
  if (!sample.stale && sample.takenAt && sample.takenAt !== lastTakenAt) {
    lastTakenAt = sample.takenAt;
    page.dataset.samples = String(Number(page.dataset.samples || 0) + 1); // charted readings, for tests
    for (const reading of sample.gpus) {
      const card = cards.get(reading.index);
      if (!card) continue;
      // Plotted at arrival on the browser's clock, so a skewed server clock cannot push points out of view.
      card.utilization.push(lastArrival, reading.utilizationPercent);
      card.memory.push(lastArrival, reading.memoryUsedBytes);
    }
  }
  for (const reading of sample.gpus) {
    const card = cards.get(reading.index);
    if (card) card.readings.textContent = readingsText(reading);
  }
  const rows = sample.gpus.flatMap((reading) => reading.processes.map((process) => processRow(reading.index, process)));
  processBody.replaceChildren(...rows);
  document.getElementById("no-processes").hidden = rows.length > 0;
  draw();
  showStale();
}

function draw() {
  const now = Date.now();
  for (const card of cards.values()) {
    card.utilization.draw(now);
    card.memory.draw(now);
  }
}

const liveState = document.getElementById("live-state");
new LiveSocket(() => "/ws/gpus/", {
  onState: (state) => {
    liveState.dataset.state = state;
    liveState.title = state === "live" ? "live updates" : "reconnecting…";
  },
  onMessage: (message) => message.type === "gpu.sample" && show(message.sample),
});
if (data.sample) show(data.sample);
// The charts slide on even when no sample comes, and silence turns into "stale".
setInterval(() => {
  draw();
  showStale();
}, 1000);
