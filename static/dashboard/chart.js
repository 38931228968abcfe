// A small SVG line chart of one or more series over a sliding time window. Our own because the dashboard has no
// build step and a few thousand points need no library; points live in a ring buffer so memory stays bounded.
const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 300; // viewBox units; the SVG is stretched to its box, the stroke kept at 1.5 px by CSS
const HEIGHT = 100;

export class RingBuffer {
  constructor(capacity) {
    this.items = new Array(capacity);
    this.start = 0;
    this.length = 0;
  }

  push(item) {
    const capacity = this.items.length;
    this.items[(this.start + this.length) % capacity] = item;
    if (this.length < capacity) this.length += 1;
    else this.start = (this.start + 1) % capacity; // full: the oldest gives way
  }

  *[Symbol.iterator]() {
    for (let i = 0; i < this.length; i += 1) yield this.items[(this.start + i) % this.items.length];
  }
}

function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

function text(tag, className, value = "") {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = value;
  return node;
}

// "−15 min", "−24 h", "−7 d": the left end of the time axis.
export function windowLabel(ms) {
  const minutes = Math.round(ms / 60000);
  if (minutes < 120) return `−${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `−${hours} h` : `−${Math.round(hours / 24)} d`;
}

// The top of an axis for values up to `value`: 1, 2 or 5 times a power of ten, at least `value`.
function niceTop(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((factor) => factor * power).find((top) => top >= value);
}

const CEILING_ROOM = 1.08; // a ceiling is drawn a little below the top, so the line under it stays visible

export class LineChart {
  // label: the caption; format: a value as text. max: the top of the y axis (a value above it is drawn at the
  // top); with autoMax the least top, raised to fit the largest value shown. A ceiling (setCeiling) sets the
  // top instead. series: the names of the lines when there are several (push then takes a value for each).
  // gapMs: points further apart than this are not joined (no readings in between).
  constructor({
    label,
    max,
    format,
    windowMs = 5 * 60 * 1000,
    capacity = 300,
    series = null,
    autoMax = false,
    gapMs = Number.POSITIVE_INFINITY,
  }) {
    this.max = max > 0 ? max : 1;
    this.autoMax = autoMax;
    this.format = format;
    this.names = series || [null];
    this.windowMs = windowMs;
    this.gapMs = gapMs;
    this.points = new RingBuffer(capacity);
    this.ceiling = null;
    this.marks = [];
    this.markLegend = "";
    this.current = text("strong", "chart-value", "-");
    this.lines = this.names.map((_, i) => svg("path", { class: `chart-line series-${i}`, d: "" }));
    this.areas = this.names.map((_, i) => svg("path", { class: `chart-area series-${i}`, d: "" }));
    this.ceilingLine = svg("line", { class: "chart-ceiling", x1: 0, x2: WIDTH, y1: 0, y2: 0, visibility: "hidden" });
    this.markLayer = svg("g", { class: "chart-marks" });
    this.svg = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: "none", role: "img" });
    for (const y of [25, 50, 75]) this.svg.append(svg("line", { class: "chart-grid", x1: 0, x2: WIDTH, y1: y, y2: y }));
    this.svg.append(...this.areas, ...this.lines, this.ceilingLine, this.markLayer);
    this.svg.dataset.points = "0";
    this.svg.dataset.marks = "0";
    const caption = document.createElement("figcaption");
    const title = text("span", "", `${label} `);
    this.names.forEach((name, i) => name && title.append(text("span", `legend series-${i}`, name)));
    this.markNote = text("span", "legend mark");
    this.markNote.hidden = true;
    title.append(this.markNote);
    caption.append(title, this.current);
    this.since = text("span", "", windowLabel(windowMs));
    this.top = text("span", "chart-top", `max ${format(this.max)}`);
    const axis = document.createElement("div");
    axis.className = "chart-axis muted";
    axis.append(this.since, this.top, text("span", "", "now"));
    this.root = document.createElement("figure");
    this.root.className = "chart";
    this.root.append(caption, this.svg, axis);
    this.svg.setAttribute("aria-label", label);
  }

  // Empties the chart for another window (and room for `capacity` points).
  reset({ windowMs = this.windowMs, capacity = this.points.items.length, gapMs = this.gapMs } = {}) {
    this.windowMs = windowMs;
    this.gapMs = gapMs;
    this.points = new RingBuffer(Math.max(1, capacity));
    this.since.textContent = windowLabel(windowMs);
    this.current.textContent = "-";
  }

  // A line across the chart at `value` (a limit), named by `label` on the axis; null takes it away.
  setCeiling(value, label) {
    this.ceiling = value > 0 ? { value, label } : null;
  }

  // Moments ({time, title}) marked by a vertical line, named `legend` in the caption while one is in view.
  setMarks(marks, legend) {
    this.marks = marks;
    this.markLegend = legend;
  }

  // One value per series (null: no reading; the line breaks there).
  push(time, ...values) {
    this.points.push([time, values]);
    const shown = (value) => (value === null || value === undefined ? "n/a" : this.format(value));
    const each = this.names.map((name, i) => `${name} ${shown(values[i])}`);
    this.current.textContent = this.names.length === 1 ? shown(values[0]) : each.join(" · ");
  }

  visiblePoints(now) {
    const oldest = now - this.windowMs * (1 + 1 / 60); // a little margin so the line enters at the edge
    return [...this.points].filter(([time]) => time >= oldest);
  }

  draw(now = Date.now()) {
    const visible = this.visiblePoints(now);
    let top = this.ceiling ? this.ceiling.value * CEILING_ROOM : this.max;
    if (this.autoMax) {
      let largest = this.max;
      for (const [, values] of visible) for (const value of values) if (value > largest) largest = value;
      if (largest > top) top = niceTop(largest); // over the ceiling (or with none): room for the largest
    }
    const xOf = (time) => WIDTH - ((now - time) / this.windowMs) * WIDTH;
    const yOf = (value) => HEIGHT - Math.min(1, Math.max(0, value / top)) * HEIGHT;
    this.names.forEach((_, i) => {
      const [line, area, shown] = this.path(visible, i, xOf, yOf);
      this.lines[i].setAttribute("d", line);
      this.areas[i].setAttribute("d", area);
      if (i === 0) this.svg.dataset.points = String(shown);
    });
    if (this.ceiling) {
      const y = yOf(this.ceiling.value).toFixed(1);
      for (const end of ["y1", "y2"]) this.ceilingLine.setAttribute(end, y);
      this.ceilingLine.setAttribute("visibility", "visible");
      this.top.textContent = this.ceiling.label;
    } else {
      this.ceilingLine.setAttribute("visibility", "hidden");
      this.top.textContent = `max ${this.format(top)}`;
    }
    const marks = this.marks.filter(({ time }) => xOf(time) >= 0 && time <= now);
    this.markLayer.replaceChildren(
      ...marks.map(({ time, title }) => {
        const x = xOf(time).toFixed(1);
        const mark = svg("line", { class: "chart-mark", x1: x, x2: x, y1: 0, y2: HEIGHT });
        const tip = svg("title");
        tip.textContent = title;
        mark.append(tip);
        return mark;
      }),
    );
    this.svg.dataset.marks = String(marks.length);
    this.markNote.hidden = marks.length === 0;
    this.markNote.textContent = marks.length > 1 ? `${this.markLegend} ×${marks.length}` : this.markLegend;
    this.svg.dataset.top = String(top);
  }

  // The line and the area under it of series `index`, broken where a value is missing or points are far apart.
  path(visible, index, xOf, yOf) {
    let line = "";
    let area = "";
    let runStart = null;
    let lastX = 0;
    let lastTime = null;
    let shown = 0;
    const close = () => {
      if (runStart !== null) area += `L${lastX.toFixed(1)},${HEIGHT}L${runStart.toFixed(1)},${HEIGHT}Z`;
      runStart = null;
    };
    for (const [time, values] of visible) {
      const value = values[index];
      if (value === null || value === undefined) {
        close();
        continue;
      }
      if (lastTime !== null && time - lastTime > this.gapMs) close();
      const x = xOf(time);
      const point = `${x.toFixed(1)},${yOf(value).toFixed(1)}`;
      if (runStart === null) {
        line += `M${point}`;
        area += `M${x.toFixed(1)},${HEIGHT}L${point}`;
        runStart = x;
      } else {
        line += `L${point}`;
        area += `L${point}`;
      }
      lastX = x;
      lastTime = time;
      shown += 1;
    }
    close();
    return [line, area, shown];
  }
}
