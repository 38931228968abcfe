// The node page: the engine's availability checked every few seconds; the page recovers without a reload.
import { api, showEngineBanner } from "./lib.js";

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
