/* The canvas's "Numbers" overlay: per step how many cases entered in a period and wait there
 * now, per wire its share of the step's cases (drawn as the wire's thickness) and the share that
 * paid. Reads /journeys/<key>/numbers.json; the same numbers fill the table below the canvas
 * for keyboards and screen readers. Kept apart from canvas.js: it only reads the canvas's DOM
 * (Drawflow's node boxes and wires) and the ports the page embeds.
 */
(function () {
  "use strict";

  const controls = document.getElementById("numbers-controls");
  const button = document.getElementById("btn-numbers");
  const dataEl = document.getElementById("journey-data");
  if (!controls || !button || !dataEl) return;
  const t = JSON.parse(controls.dataset.t);
  const ports = JSON.parse(dataEl.textContent).ports || {};
  const since = document.getElementById("numbers-since");
  const until = document.getElementById("numbers-until");
  const table = document.getElementById("numbers-table");
  const statusLine = document.getElementById("status");
  let shown = false;

  const today = new Date();
  until.value = today.toISOString().slice(0, 10);
  since.value = new Date(today.getTime() - 29 * 86400000).toISOString().slice(0, 10);

  function say(text) {
    if (statusLine) statusLine.textContent = text;
  }

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, k) => (k in values ? values[k] : ""));
  }

  function cell(text, numeric) {
    const td = document.createElement("td");
    td.textContent = text;
    if (numeric) td.className = "num";
    return td;
  }

  function percent(share) {
    return share == null ? "–" : (share * 100).toFixed(1) + " %";
  }

  // Drawflow's node boxes by the journey's node id (each card shows its id).
  function boxes() {
    const found = new Map();
    for (const box of document.querySelectorAll("#canvas .drawflow-node")) {
      const id = box.querySelector(".node-id");
      if (id) found.set(id.textContent, box);
    }
    return found;
  }

  function clear() {
    for (const badge of document.querySelectorAll("#canvas .node-numbers")) badge.remove();
    for (const path of document.querySelectorAll("#canvas svg.connection path.main-path")) {
      path.style.strokeWidth = "";
      const title = path.querySelector("title");
      if (title) title.remove();
    }
    document.getElementById("canvas").classList.remove("numbers-on");
  }

  function drawSteps(data, byId) {
    const rows = document.getElementById("numbers-steps");
    rows.replaceChildren();
    for (const [node, s] of Object.entries(data.steps)) {
      const left = Object.entries(s.left).map(([p, n]) => `${p}: ${n}`);
      const closed = Object.entries(s.closed).map(([o, n]) => `${t.closed} ${o}: ${n}`);
      const box = byId.get(node);
      if (box) {
        const badge = document.createElement("div");
        badge.className = "node-numbers";
        badge.textContent = `↘ ${s.entered} · ⏸ ${s.waiting}`;
        badge.title = `${s.entered} ${t.entered}, ${s.waiting} ${t.waiting}`;
        box.querySelector(".node-card").append(badge);
      }
      const tr = document.createElement("tr");
      tr.append(cell(node), cell(s.entered, true), cell(s.waiting, true),
        cell([...left, ...closed].join(", ") || "–"));
      rows.append(tr);
    }
  }

  function drawWires(data, byId) {
    const wires = new Map(data.wires.map((w) => [`${w.node}|${w.port}`, w]));
    const idOf = new Map([...byId].map(([id, box]) => [box.id, id]));
    for (const svg of document.querySelectorAll("#canvas svg.connection")) {
      const [, , outClass, output] = svg.classList;
      const from = idOf.get(outClass.replace("node_out_", ""));
      const index = Number(output.replace("output_", "")) - 1;
      const port = ((ports[from] || [])[index] || {}).name;
      const wire = wires.get(`${from}|${port}`);
      const path = svg.querySelector("path.main-path");
      if (!wire || !path) continue;
      path.style.strokeWidth = (2 + 12 * wire.share).toFixed(1) + "px";
      const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
      title.textContent = `${from} → ${port}: ${wire.cases} ${t.cases} (${percent(wire.share)}), ` +
        `${t.paid} ${percent(wire.paid_share)}`;
      path.append(title);
    }
    const rows = document.getElementById("numbers-wires");
    rows.replaceChildren();
    for (const w of data.wires) {
      const tr = document.createElement("tr");
      tr.append(cell(`${w.node} → ${w.target || "?"} (${w.port})`), cell(w.cases, true),
        cell(percent(w.share), true), cell(percent(w.paid_share), true));
      rows.append(tr);
    }
  }

  async function show() {
    say(t.loading);
    const url = new URL(controls.dataset.url, window.location.href);
    url.searchParams.set("since", since.value);
    url.searchParams.set("until", until.value);
    let data;
    try {
      const answer = await fetch(url, { headers: { Accept: "application/json" } });
      data = await answer.json();
      if (!answer.ok) {
        say(data.error || t.failed);
        return;
      }
    } catch (err) {
      say(t.failed);
      return;
    }
    clear();
    const byId = boxes();
    drawSteps(data, byId);
    drawWires(data, byId);
    document.getElementById("canvas").classList.add("numbers-on");
    document.getElementById("numbers-period").textContent =
      format(t.shown, { since: data.since, until: data.until });
    table.hidden = false;
    say(format(t.shown, { since: data.since, until: data.until }));
    document.dispatchEvent(new CustomEvent("mahnwerk:numbers-shown", { detail: data }));
  }

  function hide() {
    clear();
    table.hidden = true;
    say(t.hidden);
  }

  button.addEventListener("click", () => {
    shown = !shown;
    button.setAttribute("aria-pressed", String(shown));
    if (shown) show();
    else hide();
  });
  for (const input of [since, until]) {
    input.addEventListener("change", () => {
      if (shown) show();
    });
  }
})();
