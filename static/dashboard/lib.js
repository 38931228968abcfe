// Shared helpers of the dashboard's pages: DOM building (text only), the JSON API, and a reconnecting socket.

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

export function jsonData(id) {
  const script = document.getElementById(id);
  return script ? JSON.parse(script.textContent) : null;
}

function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

// Calls the JSON API with the session and the CSRF token; throws Error(message) on an error answer.
export async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

export function containerAction(action, id) {
  const body = action === "remove" ? { id, force: true } : { id };
  return api("PUT", `/container-svc/container/${action}`, body);
}

export function showEngineBanner(available, error) {
  const banner = document.getElementById("engine-banner");
  if (!banner) return;
  banner.hidden = available;
  document.getElementById("engine-banner-text").textContent = error || "";
}

// A websocket that reconnects with backoff (0.5 s doubling to 30 s, with jitter); path() is asked each time,
// so a page can resume where it was.
export class LiveSocket {
  constructor(path, { onMessage, onState = () => {} }) {
    this.path = path;
    this.onMessage = onMessage;
    this.onState = onState;
    this.attempts = 0;
    this.stopped = false;
    this.socket = null;
    this.connect();
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${this.path()}`);
    this.socket = socket;
    socket.onopen = () => {
      this.attempts = 0;
      this.onState("live");
    };
    // A replaced socket may still deliver what it had received: only the current one speaks.
    socket.onmessage = (event) => socket === this.socket && this.onMessage(JSON.parse(event.data));
    socket.onclose = () => {
      if (this.stopped || socket !== this.socket) return;
      const delay = Math.min(30000, 500 * 2 ** this.attempts) * (0.75 + Math.random() / 2);
      this.attempts += 1;
      this.onState("reconnecting");
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  reconnectNow() {
    clearTimeout(this.timer);
    const old = this.socket;
    this.socket = null;
    if (old) old.close();
    this.attempts = 0;
    this.connect();
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close();
  }
}

export function age(iso) {
  if (!iso) return "-";
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 60) return `${Math.floor(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}
