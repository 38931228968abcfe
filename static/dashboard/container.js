// The container page: state kept live from ws/containers/, actions through the API, and the log viewer.
import { LiveSocket, containerAction, jsonData, showEngineBanner } from "./lib.js";
import { LogViewer } from "./logviewer.js";

const actions = document.getElementById("actions");
const id = actions.dataset.id;
const stateBadge = document.getElementById("state");
const errorBox = document.getElementById("action-error");
const can = jsonData("can-data");

const logRoot = document.getElementById("log");
let viewer = null;
if (logRoot && can.logs) {
  const byId = (name) => document.getElementById(name);
  viewer = new LogViewer(
    logRoot,
    {
      timestamps: byId("log-ts"),
      stdout: byId("log-stdout"),
      stderr: byId("log-stderr"),
      search: byId("log-search"),
      regex: byId("log-regex"),
      pause: byId("log-pause"),
      live: byId("log-live"),
      fromStart: byId("log-from-start"),
      newLines: byId("log-new"),
      status: byId("log-status"),
    },
    id,
  );
}

function showState(state) {
  const was = stateBadge.dataset.state;
  stateBadge.dataset.state = state;
  stateBadge.textContent = state;
  for (const button of actions.querySelectorAll("button[data-action]")) {
    const action = button.dataset.action;
    button.hidden = (action === "start" && state === "running") || ((action === "stop" || action === "restart") && state !== "running");
    button.disabled = state === "removed";
  }
  if (viewer && state === "running" && was !== "running") viewer.resume();
  if (viewer && state === "removed") viewer.socket.close(); // nothing more will come
}

actions.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const action = button.dataset.action;
  if (action === "remove" && !confirm("Remove this container?")) return;
  errorBox.textContent = "";
  button.disabled = true;
  try {
    await containerAction(action, id);
  } catch (error) {
    errorBox.textContent = `${action} failed: ${error.message}`;
  } finally {
    button.disabled = false;
  }
});

new LiveSocket(() => "/ws/containers/", {
  onMessage: (message) => {
    if (message.type === "engine.status") showEngineBanner(message.available, message.error);
    if (message.type !== "container.status") return;
    if (message.removed.includes(id)) showState("removed");
    const mine = message.containers.find((c) => c.id === id);
    if (mine) {
      showState(mine.state);
      document.getElementById("exit-code").textContent = mine.exitCode ?? "-";
    } else if (message.full) showState("removed");
  },
});
showState(stateBadge.dataset.state);
