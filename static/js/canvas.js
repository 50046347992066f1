/* The journey canvas: Drawflow draws, this script keeps the journey document.
 *
 * The server's document is the single source of truth: the page embeds it, this script shows it
 * in Drawflow, and Save sends a document rebuilt from the canvas (never Drawflow's own export).
 * Forms in the side panel are rendered from the node types' params schemas described by the
 * server, so a new node type needs no change here.
 */
(function () {
  "use strict";

  // The side panel's form is edited in place, never submitted (here, not an inline onsubmit:
  // the Content-Security-Policy runs no inline script).
  const nodeForm = document.getElementById("node-form");
  if (nodeForm) nodeForm.addEventListener("submit", (event) => event.preventDefault());

  const dataEl = document.getElementById("journey-data");
  const canvasEl = document.getElementById("canvas");
  if (!dataEl || !canvasEl || typeof Drawflow === "undefined") return;

  const cfg = JSON.parse(dataEl.textContent);
  const t = cfg.t;
  const types = Object.fromEntries((cfg.palette || []).map((p) => [p.name, p]));
  const baseDoc = cfg.document;
  const editing = cfg.mode === "edit";
  // Only an editor's draft changes. Anything else (a reviewer's or viewer's canvas, a submitted
  // version) is read only: no palette, no buttons that change anything, values shown as text,
  // and Drawflow fixed (no moving, wiring or deleting; its Delete key does nothing).
  const canChange = editing && cfg.canEdit === true;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  const editor = new Drawflow(canvasEl);
  editor.reroute = false;
  editor.start();
  if (!canChange) editor.editor_mode = editing ? "fixed" : "view";
  // Every removal of a step (the panel's button, Drawflow's Delete key) goes through
  // deleteStep, which says which connections went with it and makes it undoable.
  const removeNode = editor.removeNodeId.bind(editor);
  editor.removeNodeId = (id) => deleteStep(String(id).replace("node-", ""));

  const nodes = new Map(); // Drawflow id (string) -> {id, type, label, params, ports}
  const dfOf = new Map(); // document node id -> Drawflow id
  let selected = null; // Drawflow id of the step in the side panel
  let problems = [];
  let dirty = false;
  let loading = false;
  let baseSettings = baseDoc; // templates and settings: the document beyond nodes and edges
  // Undo and redo: whole documents (as JSON) before and after each change. A change is
  // recorded once things settle (typing in a field is one change, not one per key).
  const history = { past: [], future: [], last: null, timer: null };
  let clipboard = null; // a copied step: {type, label, params}

  // ---- small helpers -------------------------------------------------------------------------

  function esc(text) {
    return String(text ?? "").replace(/[&<>"']/g, (c) => ({
      "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
    })[c]);
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children.flat()) if (child) node.append(child);
    return node;
  }

  function status(message) {
    const line = document.getElementById("status");
    if (line) line.textContent = message;
  }

  function markDirty() {
    if (loading || !canChange) return;
    dirty = true;
    clearTimeout(history.timer);
    history.timer = setTimeout(record, 400);
    undoButtons();
  }

  // ---- undo and redo -------------------------------------------------------------------------

  function record() {
    clearTimeout(history.timer);
    history.timer = null;
    if (loading || !canChange) return;
    const now = JSON.stringify(currentDocument());
    const at = selected && nodes.has(selected) ? nodes.get(selected).id : null;
    if (history.last && now === history.last.doc) {
      history.last.at = at;
      return;
    }
    if (history.last !== null) history.past.push(history.last);
    if (history.past.length > 200) history.past.shift();
    history.future = [];
    history.last = { doc: now, at }; // the document, and the step selected when it was made
    undoButtons();
  }

  function undoButtons() {
    const undoBtn = document.getElementById("btn-undo");
    const redoBtn = document.getElementById("btn-redo");
    if (undoBtn) undoBtn.disabled = !history.past.length && history.timer === null;
    if (redoBtn) redoBtn.disabled = !history.future.length;
  }

  function restore(entry) {
    const keep = entry.at;
    const onCanvas = canvasEl.contains(document.activeElement);
    const doc = JSON.parse(entry.doc);
    baseSettings = doc;
    selected = null;
    load(doc);
    dirty = true;
    select(keep && dfOf.get(keep) ? dfOf.get(keep) : null);
    showProblems(problems);
    renderMinimap();
    // The keyboard stays on the canvas: on the selected step, else the first.
    if (onCanvas) {
      const box = canvasEl.querySelector(".drawflow-node[tabindex='0']");
      if (box) box.focus({ preventScroll: true });
    }
  }

  function undo() {
    if (!canChange) return;
    if (history.timer !== null) record(); // the change being typed is the one undone
    if (!history.past.length) return status(t.nothingToUndo);
    history.future.push(history.last);
    history.last = history.past.pop();
    restore(history.last);
    undoButtons();
    status(t.undo);
  }

  function redo() {
    if (!canChange) return;
    if (!history.future.length) return status(t.nothingToRedo);
    history.past.push(history.last);
    history.last = history.future.pop();
    restore(history.last);
    undoButtons();
    status(t.redo);
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = null;
    try { data = await response.json(); } catch (_e) { data = null; }
    return { response, data };
  }

  function typeLabel(type) {
    return (types[type] && types[type].label) || type;
  }

  // ---- document <-> Drawflow -----------------------------------------------------------------

  function nodeHtml(n) {
    return `<div class="node-card">
      <div class="node-type">${esc(typeLabel(n.type))}</div>
      <div class="node-label">${esc(n.label || n.id)}</div>
      <div class="node-id">${esc(n.id)}</div>
      <div class="node-mark"></div>
      <div class="node-problem" aria-live="polite"></div>
      <div class="node-findings"></div>
    </div>`;
  }

  function nodeEl(df) {
    return document.getElementById("node-" + df);
  }

  function refreshNode(df) {
    const n = nodes.get(df);
    const box = nodeEl(df);
    if (!n || !box) return;
    box.querySelector(".node-label").textContent = n.label || n.id;
    const found = templateFindings(n);
    box.setAttribute("aria-label", `${typeLabel(n.type)}: ${n.label || n.id}` + (found.length ? ". " + findingsSummary(found) : ""));
    // The keyboard reaches steps: one of them is in the Tab order (the selected one, else the
    // first), Page Up/Down go through the rest (see stepKeys).
    box.setAttribute("role", "button");
    if (document.getElementById("canvas-keys")) box.setAttribute("aria-describedby", "canvas-keys");
    if (!box.hasAttribute("tabindex")) box.setAttribute("tabindex", "-1");
    n.ports.forEach((port, i) => {
      const out = box.querySelector(".outputs .output_" + (i + 1));
      if (out) {
        out.dataset.label = port.label;
        out.title = port.label;
      }
    });
  }

  function addNode(n) {
    const ports = n.ports || (cfg.ports && cfg.ports[n.id]) || (types[n.type] || {}).ports || [];
    const inputs = n.type === "start" ? 0 : 1;
    const pos = n.position || { x: 40, y: 40 };
    const df = String(editor.addNode(
      n.type, inputs, ports.length, pos.x || 0, pos.y || 0, "type-" + n.type, {}, nodeHtml(n),
    ));
    nodes.set(df, { id: n.id, type: n.type, label: n.label || "", params: n.params || {}, ports });
    dfOf.set(n.id, df);
    refreshNode(df);
    return df;
  }

  function connect(sourceDf, portIndex, targetDf) {
    editor.addConnection(sourceDf, targetDf, "output_" + (portIndex + 1), "input_1");
  }

  // Drawflow draws a new wire at once, measuring both of its steps (getBoundingClientRect right
  // after adding the wire's SVG): one forced layout per wire end, over a second for a journey
  // of 150 steps. While loading, wires are only added; drawWires() then measures every port
  // once and writes every path once (all reads, then all writes: one layout).
  function drawWires() {
    const pre = editor.precanvas;
    const origin = pre.getBoundingClientRect();
    const scaleX = pre.clientWidth / (pre.clientWidth * editor.zoom) || 0;
    const scaleY = pre.clientHeight / (pre.clientHeight * editor.zoom) || 0;
    const centres = new Map();
    const centre = (port) => {
      let c = centres.get(port);
      if (!c) {
        const r = port.getBoundingClientRect();
        c = {
          x: port.offsetWidth / 2 + (r.x - origin.x) * scaleX,
          y: port.offsetHeight / 2 + (r.y - origin.y) * scaleY,
        };
        centres.set(port, c);
      }
      return c;
    };
    const paths = [];
    for (const svg of pre.querySelectorAll("svg.connection")) {
      // Drawflow's classes: connection node_in_node-<to> node_out_node-<from> output_<i> input_<j>
      const [, inClass, outClass, output, input] = svg.classList;
      const from = document.getElementById(outClass.replace("node_out_", ""));
      const to = document.getElementById(inClass.replace("node_in_", ""));
      const start = from && from.querySelector(".outputs ." + output);
      const end = to && to.querySelector(".inputs ." + input);
      if (!start || !end || !svg.firstElementChild) continue;
      const a = centre(start);
      const b = centre(end);
      paths.push([svg.firstElementChild,
        editor.createCurvature(a.x, a.y, b.x, b.y, editor.curvature, "openclose")]);
    }
    for (const [path, d] of paths) path.setAttributeNS(null, "d", d);
  }

  function load(doc) {
    loading = true;
    baseSettings = doc;
    editor.clear();
    nodes.clear();
    dfOf.clear();
    for (const n of doc.nodes) addNode(n);
    const updateConnectionNodes = editor.updateConnectionNodes;
    editor.updateConnectionNodes = () => {}; // drawn below, all at once
    try {
      for (const e of doc.edges || []) {
        const source = dfOf.get(e.from);
        const target = dfOf.get(e.to);
        if (!source || !target) continue;
        const index = nodes.get(source).ports.findIndex((p) => p.name === (e.port || "next"));
        if (index >= 0) connect(source, index, target);
      }
    } finally {
      editor.updateConnectionNodes = updateConnectionNodes;
    }
    drawWires();
    loading = false;
    applyMarks();
    rovingTab();
  }

  function outputTargets(df, index) {
    const info = editor.getNodeFromId(df);
    const out = info && info.outputs["output_" + (index + 1)];
    return out ? out.connections.map((c) => String(c.node)) : [];
  }

  function currentDocument() {
    const docNodes = [];
    const edges = [];
    for (const [df, n] of nodes) {
      const info = editor.getNodeFromId(df);
      docNodes.push({
        id: n.id,
        type: n.type,
        label: n.label,
        params: n.params,
        position: { x: Math.round(info.pos_x), y: Math.round(info.pos_y) },
      });
      n.ports.forEach((port, i) => {
        for (const target of outputTargets(df, i)) {
          const to = nodes.get(target);
          if (to) edges.push({ from: n.id, port: port.name, to: to.id });
        }
      });
    }
    return { ...baseSettings, nodes: docNodes, edges };
  }

  function newId(type) {
    let i = 1;
    while (dfOf.has(`${type}_${i}`)) i += 1;
    return `${type}_${i}`;
  }

  // Steps are about 200 x 90 on the canvas; a spot is free when no step is that near.
  const STEP_W = 230;
  const STEP_H = 110;

  function isFree(x, y, except) {
    const home = editor.drawflow.drawflow[editor.module].data;
    for (const [df, info] of Object.entries(home)) {
      if (df === except) continue;
      if (Math.abs(info.pos_x - x) < STEP_W && Math.abs(info.pos_y - y) < STEP_H) return false;
    }
    return true;
  }

  // Free space after `anchorDf` (right of it, then above or below in that column, then
  // further right), or after the right-most step when nothing is selected.
  function freeSpot(anchorDf) {
    const home = editor.drawflow.drawflow[editor.module].data;
    const anchor = anchorDf && home[anchorDf];
    let x0 = 40;
    let y0 = 40;
    if (anchor) {
      x0 = anchor.pos_x + STEP_W + 40;
      y0 = anchor.pos_y;
    } else if (Object.keys(home).length) {
      const all = Object.values(home);
      x0 = Math.max(...all.map((i) => i.pos_x)) + STEP_W + 40;
      y0 = Math.min(...all.map((i) => i.pos_y));
    }
    for (let column = 0; column < 50; column += 1) {
      const x = x0 + column * (STEP_W + 40);
      for (const k of [0, 1, -1, 2, -2, 3, -3, 4]) {
        const y = y0 + k * STEP_H;
        if (y >= 0 && isFree(x, y)) return { x, y };
      }
    }
    return { x: x0, y: y0 };
  }

  // Wire the new step after `fromDf`: into its first free output; when every output is
  // taken, the new step goes in between (the first output's old target follows the new step).
  function autoWire(fromDf, df) {
    const from = nodes.get(fromDf);
    const n = nodes.get(df);
    if (!from || !n || !from.ports.length || n.type === "start") return false;
    let index = from.ports.findIndex((_p, i) => outputTargets(fromDf, i).length === 0);
    if (index < 0) {
      index = 0;
      const old = outputTargets(fromDf, 0)[0];
      editor.removeSingleConnection(fromDf, old, "output_1", "input_1");
      if (n.ports.length && old) connect(df, 0, old);
    }
    connect(fromDf, index, df);
    return true;
  }

  function addStep(spec, position) {
    const after = selected;
    const df = addNode({
      id: newId(spec.type), type: spec.type, label: spec.label,
      params: structuredClone(spec.params || {}),
      position: position || freeSpot(after), ports: spec.ports,
    });
    const wired = after && !position ? autoWire(after, df) : false;
    select(df);
    record();
    dirty = true;
    renderMinimap();
    const box = nodeEl(df);
    if (box) box.focus();
    return { df, wired, after };
  }

  function addFromPalette(type, position) {
    const spec = types[type];
    if (!spec) return null;
    const { df, wired, after } = addStep(
      { type, label: spec.label, params: spec.defaults || {}, ports: spec.ports }, position);
    status(wired
      ? t.wiredFrom.replace("{label}", spec.label).replace("{from}", stepName(after))
      : t.added.replace("{label}", spec.label));
    return df;
  }

  function stepName(df) {
    const n = nodes.get(df);
    return n ? n.label || n.id : "";
  }

  function copyStep() {
    const n = selected && nodes.get(selected);
    if (!n || n.type === "start") return;
    clipboard = { type: n.type, label: n.label, params: structuredClone(n.params), ports: n.ports };
    status(t.copied.replace("{label}", n.label || n.id));
  }

  function pasteStep() {
    if (!clipboard || !canChange) return;
    addStep(structuredClone(clipboard));
    status(t.pasted.replace("{label}", clipboard.label));
  }

  // Delete a step and say which connections went with it; Ctrl+Z brings all of it back.
  function deleteStep(df) {
    const n = nodes.get(df);
    if (!n || !canChange) return;
    const wires = [];
    const info = editor.getNodeFromId(df);
    for (const out of Object.values(info.outputs || {})) {
      for (const c of out.connections) wires.push("→ " + stepName(String(c.node)));
    }
    for (const inp of Object.values(info.inputs || {})) {
      for (const c of inp.connections) wires.push(stepName(String(c.node)) + " →");
    }
    removeNode("node-" + df);
    record();
    renderMinimap();
    status(wires.length
      ? t.deletedWires.replace("{label}", n.label || n.id).replace("{n}", wires.length)
        .replace("{list}", wires.join(", "))
      : t.deleted);
  }

  // ---- ports that depend on params (branches, arms, events) ----------------------------------

  let portsTimer = null;
  function schedulePorts(df) {
    clearTimeout(portsTimer);
    portsTimer = setTimeout(() => updatePorts(df), 250);
  }

  async function updatePorts(df) {
    const n = nodes.get(df);
    if (!n) return;
    const { data } = await post(cfg.urls.ports, { type: n.type, params: n.params });
    if (!data || !Array.isArray(data.ports)) return;
    const same = data.ports.length === n.ports.length &&
      data.ports.every((p, i) => p.name === n.ports[i].name && p.label === n.ports[i].label);
    if (same) return;
    const wired = {};
    n.ports.forEach((p, i) => { wired[p.name] = outputTargets(df, i); });
    for (let i = n.ports.length; i > 0; i -= 1) editor.removeNodeOutput(df, "output_" + i);
    data.ports.forEach(() => editor.addNodeOutput(df));
    n.ports = data.ports;
    data.ports.forEach((p, i) => (wired[p.name] || []).forEach((target) => connect(df, i, target)));
    refreshNode(df);
    if (selected === df) renderPorts(df);
  }

  // ---- the side panel ------------------------------------------------------------------------

  function fieldProblems(df, path) {
    const n = nodes.get(df);
    return problems.filter((p) => p.node === n.id && p.field === path);
  }

  function problemNote(df, path, id) {
    const found = fieldProblems(df, path);
    if (!found.length) return null;
    return el("p", { class: "field-problem", id, role: "alert" }, found.map((p) => p.message).join(" "));
  }

  function getAt(obj, path) {
    return path.reduce((o, k) => (o == null ? undefined : o[k]), obj);
  }

  function setAt(obj, path, value) {
    let o = obj;
    for (let i = 0; i < path.length - 1; i += 1) {
      if (o[path[i]] == null) o[path[i]] = typeof path[i + 1] === "number" ? [] : {};
      o = o[path[i]];
    }
    const last = path[path.length - 1];
    if (value === undefined) delete o[last];
    else o[last] = value;
  }

  function parseRaw(text) {
    const s = text.trim();
    if (s === "") return "";
    if (/^(-?\d+(\.\d+)?|true|false|null|\[.*\]|".*")$/s.test(s)) {
      try { return JSON.parse(s); } catch (_e) { return text; }
    }
    return text;
  }

  function showRaw(value) {
    if (value === undefined || value === null) return "";
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function defaultsOf(fields) {
    const item = {};
    for (const f of fields) if (f.default !== null && f.default !== undefined) item[f.name] = structuredClone(f.default);
    return item;
  }

  // A value as the read-only panel shows it: the choice's label, yes/no, JSON for the rest.
  function shownValue(field, value) {
    if (value === undefined || value === null || value === "" ||
        (Array.isArray(value) && !value.length)) return t.none;
    if (field.kind === "boolean") return value ? t.yes : t.no;
    if (field.choices && field.choices.length) {
      return (Array.isArray(value) ? value : [value]).map((v) => {
        const c = field.choices.find((x) => String(x.value) === String(v));
        return c ? c.label : String(v);
      }).join(", ");
    }
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  }

  function readOnlyLine(label, value) {
    return el("p", { class: "field-readonly" },
      el("span", { class: "field-label" }, label), " ", el("span", { class: "field-value" }, value));
  }

  function renderReadOnlyField(df, field, path) {
    const n = nodes.get(df);
    const dotted = ["params", ...path].join(".");
    const probId = "f-" + dotted.replace(/[^a-zA-Z0-9_-]/g, "-") + "-problem";
    const value = getAt(n.params, path);
    const wrap = el("div", { class: "field field-" + field.kind });
    if (field.kind === "list_nested" || field.kind === "nested") {
      const set = el("fieldset", { class: "group" }, el("legend", {}, field.label));
      if (field.kind === "nested") {
        for (const sub of field.fields) set.append(renderReadOnlyField(df, sub, [...path, sub.name]));
      } else {
        const items = Array.isArray(value) ? value : [];
        if (!items.length) set.append(el("p", { class: "help" }, t.none));
        items.forEach((_item, i) => {
          const row = el("fieldset", { class: "item" }, el("legend", {}, `${field.label} ${i + 1}`));
          for (const sub of field.fields) row.append(renderReadOnlyField(df, sub, [...path, i, sub.name]));
          set.append(row);
        });
      }
      wrap.append(set);
    } else {
      wrap.append(readOnlyLine(field.label, shownValue(field, value)));
    }
    const note = problemNote(df, dotted, probId);
    if (note) wrap.append(note);
    return wrap;
  }

  const SEND_REDRAW = ["channel", "tone", "fallback_channel"];

  function renderField(df, field, base, path) {
    if (!canChange) return renderReadOnlyField(df, field, path);
    const n = nodes.get(df);
    const dotted = ["params", ...path].join(".");
    const id = "f-" + dotted.replace(/[^a-zA-Z0-9_-]/g, "-");
    const helpId = id + "-help";
    const probId = id + "-problem";
    const value = getAt(n.params, path);
    const described = [field.help ? helpId : null, fieldProblems(df, dotted).length ? probId : null]
      .filter(Boolean).join(" ") || null;
    const changed = (v) => {
      setAt(n.params, path, v);
      markDirty();
      schedulePorts(df);
      // a send step's template picker depends on its channel and tone: show it anew
      if (n.type === "send" && path.length === 1 && SEND_REDRAW.includes(field.name)) {
        renderPanel();
        const again = document.getElementById(id);
        if (again) again.focus();
      }
    };
    const wrap = el("div", { class: "field field-" + field.kind });
    const help = field.help ? el("p", { class: "help", id: helpId }, field.help) : null;
    const label = el("label", { for: id }, field.label, field.required ? el("span", { class: "req", "aria-hidden": "true" }, " *") : null);

    if (field.kind === "list_nested" || field.kind === "nested") {
      const set = el("fieldset", { class: "group", "aria-describedby": described });
      set.append(el("legend", {}, field.label));
      if (help) set.append(help);
      const note = problemNote(df, dotted, probId);
      if (note) set.append(note);
      if (field.kind === "nested") {
        for (const sub of field.fields) set.append(renderField(df, sub, base, [...path, sub.name]));
      } else {
        const items = Array.isArray(value) ? value : [];
        items.forEach((_item, i) => {
          const row = el("fieldset", { class: "item" }, el("legend", {}, `${field.label} ${i + 1}`));
          for (const sub of field.fields) row.append(renderField(df, sub, base, [...path, i, sub.name]));
          row.append(el("button", {
            type: "button", class: "small", onclick: () => {
              items.splice(i, 1);
              changed(items);
              renderPanel();
            },
          }, `${t.remove}: ${field.label} ${i + 1}`));
          set.append(row);
        });
        set.append(el("button", {
          type: "button", class: "small", onclick: () => {
            const next = [...items, defaultsOf(field.fields)];
            changed(next);
            renderPanel();
            const again = document.getElementById(id + "-add-btn");
            if (again) again.focus();
          }, id: id + "-add-btn",
        }, `${t.add}: ${field.label}`));
      }
      wrap.append(set);
      return wrap;
    }

    if (n.type === "send" && path.length === 1 &&
        (field.name === "template" || field.name === "fallback_template")) {
      return renderTemplatePicker(df, field, { id, described, label, help, probId, dotted, changed });
    }

    let input;
    if (field.kind === "multi_choice") {
      const chosen = Array.isArray(value) ? value : [];
      const set = el("fieldset", { class: "choices", "aria-describedby": described }, el("legend", {}, field.label));
      for (const c of field.choices) {
        const cid = id + "-" + String(c.value).replace(/[^a-zA-Z0-9_-]/g, "-");
        set.append(el("label", { class: "check", for: cid },
          el("input", {
            type: "checkbox", id: cid, checked: chosen.includes(c.value),
            onchange: (ev) => {
              const next = new Set(Array.isArray(getAt(n.params, path)) ? getAt(n.params, path) : []);
              if (ev.target.checked) next.add(c.value); else next.delete(c.value);
              changed(field.choices.map((x) => x.value).filter((v) => next.has(v)));
            },
          }), " ", c.label));
      }
      wrap.append(set);
      if (help) wrap.append(help);
      const note = problemNote(df, dotted, probId);
      if (note) wrap.append(note);
      return wrap;
    }
    if (field.choices && field.choices.length) {
      input = el("select", { id, "aria-describedby": described });
      if (!field.required || field.nullable || value === undefined) input.append(el("option", { value: "" }, t.noneChosen));
      for (const c of field.choices) {
        input.append(el("option", { value: String(c.value), selected: String(value) === String(c.value) }, c.label));
      }
      input.addEventListener("change", () => {
        const raw = input.value;
        const match = field.choices.find((c) => String(c.value) === raw);
        changed(raw === "" ? (field.nullable ? null : undefined) : match ? match.value : raw);
      });
    } else if (field.kind === "boolean") {
      input = el("input", { type: "checkbox", id, checked: !!value, "aria-describedby": described });
      input.addEventListener("change", () => changed(input.checked));
    } else if (field.kind === "integer" || field.kind === "number") {
      input = el("input", {
        type: "number", id, step: field.kind === "integer" ? "1" : "any",
        value: value ?? "", "aria-describedby": described,
      });
      input.addEventListener("input", () => {
        const raw = input.value;
        changed(raw === "" ? undefined : Number(raw));
      });
    } else if (field.kind === "raw") {
      input = el("input", { type: "text", id, value: showRaw(value), "aria-describedby": described });
      input.addEventListener("input", () => changed(parseRaw(input.value)));
    } else {
      input = el("input", { type: "text", id, value: value ?? "", "aria-describedby": described });
      input.addEventListener("input", () => changed(input.value === "" && field.nullable ? null : input.value));
    }
    if (fieldProblems(df, dotted).length) input.setAttribute("aria-invalid", "true");
    wrap.append(label, input);
    if (help) wrap.append(help);
    const note = problemNote(df, dotted, probId);
    if (note) wrap.append(note);
    return wrap;
  }

  // ---- templates from the step: a picker of the journey's templates, "create this template",
  // and which variant (language, tone) the step will send -------------------------------------

  function channelWord(channel) {
    const field = ((types.send || {}).fields || []).find((f) => f.name === "channel");
    const choice = field && (field.choices || []).find((c) => c.value === channel);
    return choice ? choice.label : channel;
  }

  // The variant the engine sends (engine/journey/document.py Template.variant): exact locale,
  // then language, then any; the nearest tone first.
  function chosenVariant(template, locale, tone) {
    const lang = locale.split("-")[0].toLowerCase();
    const rank = (v) => [
      v.locale.toLowerCase() !== locale.toLowerCase() ? 1 : 0,
      v.locale.split("-")[0].toLowerCase() !== lang ? 1 : 0,
      Math.abs(v.tone - tone),
    ];
    const sorted = [...(template.variants || [])].sort((a, b) => {
      const ra = rank(a);
      const rb = rank(b);
      for (let i = 0; i < 3; i += 1) if (ra[i] !== rb[i]) return ra[i] - rb[i];
      return 0;
    });
    return sorted[0] || null;
  }

  function starterTemplate(channel, tone) {
    const de = String(baseSettings.locale || "en").startsWith("de");
    const body = de
      ? "Guten Tag {{ debtor_name }},\n\n{{ format_money(amount_open) }} aus der Rechnung {{ reference }} sind offen: {{ portal_url }}\n\n{{ creditor_name }}"
      : "Dear {{ debtor_name }},\n\n{{ format_money(amount_open) }} for invoice {{ reference }} is open: {{ portal_url }}\n\n{{ creditor_name }}";
    const variant = { locale: baseSettings.locale || "en", tone: Number(tone) || 1, body };
    if (channel === "sms") {
      variant.body = de
        ? "{{ creditor_name }}: {{ format_money(amount_open) }} offen ({{ reference }}). {{ portal_url }}"
        : "{{ creditor_name }}: {{ format_money(amount_open) }} open ({{ reference }}). {{ portal_url }}";
    } else {
      variant.subject = de ? "Rechnung {{ reference }}" : "Invoice {{ reference }}";
    }
    return { channel, variants: [variant] };
  }

  function renderTemplatePicker(df, field, f) {
    const n = nodes.get(df);
    const value = n.params[field.name];
    const templates = baseSettings.templates || {};
    const wrap = el("div", { class: "field field-template" });
    const select = el("select", { id: f.id, "aria-describedby": f.described });
    select.append(el("option", { value: "" }, t.noneChosen));
    for (const key of Object.keys(templates).sort()) {
      select.append(el("option", { value: key, selected: key === value },
        `${key} (${channelWord(templates[key].channel)})`));
    }
    if (value && !templates[value]) {
      select.append(el("option", { value, selected: true }, t.templateMissing.replace("{key}", value)));
    }
    if (fieldProblems(df, f.dotted).length) select.setAttribute("aria-invalid", "true");
    select.addEventListener("change", () => {
      f.changed(select.value === "" ? (field.nullable ? null : undefined) : select.value);
      renderPanel();
      const again = document.getElementById(f.id);
      if (again) again.focus();
    });
    wrap.append(f.label, select);
    if (f.help) wrap.append(f.help);
    const note = problemNote(df, f.dotted, f.probId);
    if (note) wrap.append(note);
    // Which variant goes out, and a warning when the step's tone has none of its own.
    const template = value && templates[value];
    if (template && field.name === "template") {
      const tone = Number(n.params.tone || 1);
      const v = chosenVariant(template, String(baseSettings.locale || "en"), tone);
      if (!v) wrap.append(el("p", { class: "field-warning", id: f.id + "-variant" }, t.noVariant));
      else {
        wrap.append(el("p", { class: "help variant-line", id: f.id + "-variant" },
          t.willSend.replace("{locale}", v.locale).replace("{tone}", v.tone)));
        if (v.tone !== tone) {
          wrap.append(el("p", { class: "field-warning", role: "status" },
            t.noToneVariant.replace("{tone}", tone).replace("{found}", v.tone)));
        }
      }
    }
    // "Create this template": a first text in the journey's language, for this step's channel.
    const channel = field.name === "template" ? n.params.channel : n.params.fallback_channel;
    if (channel) {
      const keyId = f.id + "-new";
      const keyInput = el("input", {
        type: "text", id: keyId, value: value && !templates[value] ? value : `${n.id}_text`,
        pattern: "[A-Za-z0-9_\\-]+", size: "16",
      });
      const create = el("button", {
        type: "button", class: "small", id: f.id + "-create", onclick: () => {
          const key = keyInput.value.trim();
          if (!/^[A-Za-z0-9_-]+$/.test(key)) return status(t.badTemplateKey);
          if (templates[key]) return status(t.templateExists.replace("{key}", key));
          baseSettings = { ...baseSettings,
            templates: { ...templates, [key]: starterTemplate(channel, n.params.tone) } };
          f.changed(key);
          record();
          renderPanel();
          const again = document.getElementById(f.id);
          if (again) again.focus();
          status(t.templateCreated.replace("{key}", key));
        },
      }, t.createTemplate);
      wrap.append(el("div", { class: "row create-template" },
        el("label", { for: keyId }, t.newTemplateKey), keyInput, create));
    }
    return wrap;
  }

  // ---- journey settings: language, currency, jurisdiction (shown when no step is selected) --

  function renderSettings(form) {
    const choices = cfg.settings || {};
    const box = el("fieldset", { class: "group journey-settings", id: "journey-settings" },
      el("legend", {}, t.settingsTitle));
    const jurisdictionWord = (code) => (code === "NONE" ? t.noJurisdiction : code);
    if (!canChange) {
      box.append(readOnlyLine(t.language, baseSettings.locale || "en"),
        readOnlyLine(t.currency, baseSettings.currency || "EUR"),
        readOnlyLine(t.jurisdiction, jurisdictionWord(baseSettings.jurisdiction || "NONE")));
      form.append(box);
      return;
    }
    const setting = (name, value) => {
      baseSettings = { ...baseSettings, [name]: value };
      markDirty();
    };
    const chooser = (name, label, options, word) => {
      const current = String(baseSettings[name] || "");
      const list = options.includes(current) || !current ? options : [current, ...options];
      const input = el("select", { id: "s-" + name },
        list.map((o) => el("option", { value: o, selected: o === current }, word ? word(o) : o)));
      input.addEventListener("change", () => setting(name, input.value));
      return el("div", { class: "field" }, el("label", { for: "s-" + name }, label), input);
    };
    box.append(chooser("locale", t.language, choices.locales || ["en", "de"]));
    const currency = el("input", {
      id: "s-currency", type: "text", value: baseSettings.currency || "EUR", size: "4",
      pattern: "[A-Z]{3}", maxlength: "3", "aria-describedby": "s-help",
    });
    currency.addEventListener("input", () => setting("currency", currency.value.trim().toUpperCase()));
    box.append(el("div", { class: "field" }, el("label", { for: "s-currency" }, t.currency), currency));
    box.append(chooser("jurisdiction", t.jurisdiction, choices.jurisdictions || ["NONE"], jurisdictionWord));
    box.append(renderInterest());
    box.append(renderReadability());
    box.append(el("p", { class: "help", id: "s-help" }, t.settingsHelp));
    form.append(box);
  }

  // Interest (docs/journeys.md, "Fees and interest"): settings.interest of the document; "off"
  // leaves it out, so a journey without interest keeps the document it had.
  function renderInterest() {
    const current = ((baseSettings.settings || {}).interest) || {};
    const wrap = el("div", { class: "interest-settings" });
    const write = (interest) => {
      const rest = { ...(baseSettings.settings || {}) };
      if (interest.mode === "off") delete rest.interest; else rest.interest = interest;
      baseSettings = { ...baseSettings, settings: Object.keys(rest).length ? rest : undefined };
      if (baseSettings.settings === undefined) delete baseSettings.settings;
      markDirty();
    };
    const select = (id, label, options, value, onChange) => {
      const input = el("select", { id },
        options.map(([v, w]) => el("option", { value: v, selected: v === value }, w)));
      input.addEventListener("change", () => onChange(input.value));
      return [el("div", { class: "field" }, el("label", { for: id }, label), input), input];
    };
    const [modeField, mode] = select("s-interest-mode", t.interest,
      [["off", t.interestOff], ["statutory", t.interestStatutory], ["fixed", t.interestFixed]],
      current.mode || "off", () => update());
    const rate = el("input", { id: "s-interest-rate", type: "text", inputmode: "decimal",
      size: "6", value: current.rate || "", pattern: "\\d{1,2}([.]\\d{1,4})?" });
    rate.addEventListener("input", () => update());
    const rateField = el("div", { class: "field" }, el("label", { for: "s-interest-rate" }, t.interestRate), rate);
    const [fromField, from] = select("s-interest-from", t.interestFrom,
      [["due_date", t.fromDueDate], ["default", t.fromDefault]], current.from || "due_date", () => update());
    const show = () => { // .field is display: flex, which the hidden attribute would not beat
      rateField.style.display = mode.value === "fixed" ? "" : "none";
      fromField.style.display = mode.value === "off" ? "none" : "";
    };
    function update() {
      const interest = { ...current, mode: mode.value, from: from.value };
      if (mode.value === "fixed") interest.rate = rate.value.trim(); else delete interest.rate;
      write(interest);
      show();
    }
    show();
    wrap.append(modeField, rateField, fromField);
    return wrap;
  }

  // Readability targets (docs/compliance.md, "Readability"): settings.readability, one whole
  // number per language; an empty field keeps the rule pack's default.
  function renderReadability() {
    const current = ((baseSettings.settings || {}).readability) || {};
    const wrap = el("div", { class: "readability-settings" });
    [["de", t.readabilityDe, 4, 15], ["en", t.readabilityEn, 0, 100]].forEach(([lang, label, min, max]) => {
      const id = "s-readability-" + lang;
      const input = el("input", { id, type: "number", min: String(min), max: String(max), step: "1",
        value: current[lang] ?? "", placeholder: t.packDefault });
      input.addEventListener("input", () => {
        const rest = { ...(baseSettings.settings || {}) };
        const targets = { ...(rest.readability || {}) };
        if (input.value.trim() === "") delete targets[lang]; else targets[lang] = Number(input.value);
        if (Object.keys(targets).length) rest.readability = targets; else delete rest.readability;
        baseSettings = { ...baseSettings, settings: rest };
        if (!Object.keys(rest).length) delete baseSettings.settings;
        markDirty();
      });
      wrap.append(el("div", { class: "field" }, el("label", { for: id }, label), input));
    });
    return wrap;
  }

  function renderPorts(df) {
    const box = document.getElementById("ports-box");
    if (!box) return;
    box.replaceChildren();
    const n = nodes.get(df);
    if (!n.ports.length) return;
    box.append(el("legend", {}, t.outputs));
    n.ports.forEach((port, i) => {
      const id = `port-${i}`;
      const current = outputTargets(df, i)[0] || "";
      if (!canChange) {
        const to = current && nodes.get(current);
        const line = readOnlyLine(`${port.label} → ${t.nextStep}`,
          to ? `${to.label || to.id} (${to.id})` : t.notConnected);
        const note = problemNote(df, "port." + port.name, id + "-problem");
        box.append(el("div", { class: "field" }, line, note));
        return;
      }
      const select = el("select", { id, "data-port": port.name });
      select.append(el("option", { value: "" }, t.notConnected));
      for (const [other, o] of nodes) {
        if (other === df || o.type === "start") continue;
        select.append(el("option", { value: other, selected: other === current }, `${o.label || o.id} (${o.id})`));
      }
      select.addEventListener("change", () => {
        for (const target of outputTargets(df, i)) {
          editor.removeSingleConnection(df, target, "output_" + (i + 1), "input_1");
        }
        if (select.value) connect(df, i, select.value);
        markDirty();
      });
      const wrap = el("div", { class: "field" },
        el("label", { for: id }, `${port.label} → ${t.nextStep}`), select);
      const note = problemNote(df, "port." + port.name, id + "-problem");
      if (note) {
        select.setAttribute("aria-invalid", "true");
        wrap.append(note);
      }
      box.append(wrap);
    });
  }

  function renderPicker() {
    const picker = document.getElementById("node-picker");
    if (!picker) return;
    picker.replaceChildren(el("option", { value: "" }, t.noneChosen));
    for (const [df, n] of nodes) {
      picker.append(el("option", { value: df, selected: df === selected }, `${n.label || n.id} — ${typeLabel(n.type)}`));
    }
  }

  function renderPanel() {
    renderPicker();
    const form = document.getElementById("node-form");
    if (!form) return;
    form.replaceChildren();
    if (!selected || !nodes.has(selected)) {
      form.append(el("p", { class: "help" }, t.noSelection));
      renderSettings(form);
      return;
    }
    const df = selected;
    const n = nodes.get(df);
    const spec = types[n.type] || { fields: [], help: "" };
    form.append(el("h3", {}, typeLabel(n.type)), el("p", { class: "help" }, spec.help));
    if (!canChange) {
      form.append(el("p", { class: "help" }, t.readOnly), readOnlyLine(t.label, n.label || t.none));
    } else {
      const labelInput = el("input", { id: "f-label", type: "text", value: n.label, "aria-describedby": "f-label-help" });
      labelInput.addEventListener("input", () => {
        n.label = labelInput.value;
        refreshNode(df);
        renderPicker();
        markDirty();
      });
      form.append(el("div", { class: "field" },
        el("label", { for: "f-label" }, t.label), labelInput,
        el("p", { class: "help", id: "f-label-help" }, t.labelHelp)));
    }
    form.append(el("p", { class: "node-id-line" }, `${t.stepId}: `, el("code", {}, n.id)));
    const general = problems.filter((p) => p.node === n.id && (!p.field || p.field === "edges" || p.field === "id" || p.field === "type"));
    if (general.length) form.append(el("ul", { class: "field-problem", role: "alert" }, general.map((p) => el("li", {}, p.message))));
    const findings = findingsPanel(n);
    if (findings) form.append(findings);
    if (n.type === "split" && cfg.urls.experiment) {
      // The experiment page of this split (designer/experiments.py): numbers, verdict, promotion.
      const href = cfg.urls.experiment.replace("__NODE__", encodeURIComponent(n.id));
      form.append(el("p", { class: "experiment-link" },
        el("a", { class: "button", id: "experiment-link", href, "aria-describedby": "experiment-help" }, t.experimentLink),
        el("span", { class: "help", id: "experiment-help" }, " " + t.experimentHelp)));
    }
    for (const field of spec.fields) form.append(renderField(df, field, n.params, [field.name]));
    form.append(el("fieldset", { id: "ports-box", class: "group" }));
    renderPorts(df);
    if (canChange) {
      // The keyboard's way on: from the form straight to the next step, wired after this one.
      const nextType = el("select", { id: "add-next-type" },
        (cfg.palette || []).filter((p) => p.name !== "start")
          .map((p) => el("option", { value: p.name }, p.label)));
      form.append(el("div", { class: "field add-next" },
        el("label", { for: "add-next-type" }, t.addNext),
        el("div", { class: "row" }, nextType, el("button", {
          type: "button", id: "btn-add-next", onclick: () => addFromPalette(nextType.value),
        }, t.addNextButton))));
      form.append(el("button", {
        type: "button", class: "danger", id: "btn-delete", onclick: () => {
          deleteStep(df);
          document.getElementById("node-picker").focus();
        },
      }, t.deleteStep));
    }
  }

  function select(df) {
    if (selected && nodeEl(selected)) nodeEl(selected).classList.remove("is-current");
    selected = df && nodes.has(df) ? df : null;
    if (selected && nodeEl(selected)) nodeEl(selected).classList.add("is-current");
    rovingTab();
    renderPanel();
  }

  // One step is in the Tab order: the selected one, else the first.
  function rovingTab() {
    const current = selected && nodes.has(selected) ? selected : nodes.keys().next().value;
    for (const box of canvasEl.querySelectorAll(".drawflow-node[tabindex='0']")) box.tabIndex = -1;
    const box = current && nodeEl(current);
    if (box) box.tabIndex = 0;
  }

  // ---- the keyboard on the canvas ------------------------------------------------------------

  function applyTransform() {
    editor.precanvas.style.transform =
      `translate(${editor.canvas_x}px, ${editor.canvas_y}px) scale(${editor.zoom})`;
    renderMinimap();
  }

  // Pan so that a step is in view (focus must not scroll Drawflow's own box).
  function ensureVisible(df) {
    const box = nodeEl(df);
    if (!box) return;
    canvasEl.scrollTop = 0;
    canvasEl.scrollLeft = 0;
    const r = box.getBoundingClientRect();
    const c = canvasEl.getBoundingClientRect();
    let dx = 0;
    let dy = 0;
    if (r.right > c.right - 24) dx = c.right - 24 - r.right;
    if (r.left + dx < c.left + 24) dx = c.left + 24 - r.left;
    if (r.bottom > c.bottom - 24) dy = c.bottom - 24 - r.bottom;
    if (r.top + dy < c.top + 24) dy = c.top + 24 - r.top;
    if (dx || dy) {
      editor.canvas_x += dx;
      editor.canvas_y += dy;
      applyTransform();
    }
  }

  function moveStep(df, dx, dy) {
    const info = editor.drawflow.drawflow[editor.module].data[df];
    if (!info) return;
    info.pos_x = Math.max(0, info.pos_x + dx);
    info.pos_y = Math.max(0, info.pos_y + dy);
    const box = nodeEl(df);
    box.style.left = info.pos_x + "px";
    box.style.top = info.pos_y + "px";
    editor.updateConnectionNodes("node-" + df);
    markDirty();
    ensureVisible(df);
    renderMinimap();
    status(t.moved.replace("{label}", stepName(df)).replace("{x}", Math.round(info.pos_x))
      .replace("{y}", Math.round(info.pos_y)));
  }

  function focusStep(df) {
    const box = nodeEl(df);
    if (!box) return;
    select(df);
    box.focus({ preventScroll: true });
    ensureVisible(df);
  }

  canvasEl.addEventListener("focusin", (ev) => {
    const box = ev.target.closest && ev.target.closest(".drawflow-node");
    if (!box) return;
    const df = box.id.replace("node-", "");
    if (df !== selected) select(df);
    ensureVisible(df);
  });

  canvasEl.addEventListener("keydown", (ev) => {
    const box = ev.target.classList && ev.target.classList.contains("drawflow-node") ? ev.target : null;
    if (!box || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const df = box.id.replace("node-", "");
    const arrows = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (ev.key === "Enter" || ev.key === "F2") {
      ev.preventDefault();
      const first = document.querySelector("#node-form input, #node-form select, #node-form button");
      if (first) first.focus();
    } else if (ev.key === "PageDown" || ev.key === "PageUp") {
      ev.preventDefault();
      const order = [...nodes.keys()];
      const i = order.indexOf(df);
      const next = order[(i + (ev.key === "PageDown" ? 1 : order.length - 1)) % order.length];
      focusStep(next);
    } else if (arrows[ev.key] && canChange) {
      ev.preventDefault();
      const step = ev.shiftKey ? 100 : 20;
      moveStep(df, arrows[ev.key][0] * step, arrows[ev.key][1] * step);
    } else if ((ev.key === "Delete" || ev.key === "Backspace") && canChange) {
      ev.preventDefault();
      ev.stopPropagation(); // not Drawflow's own Delete as well
      const order = [...nodes.keys()];
      const next = order[order.indexOf(df) + 1] || order[order.indexOf(df) - 1];
      deleteStep(df);
      if (next && nodes.has(next)) focusStep(next);
    }
  });

  // Ctrl+S saves; Ctrl+Z / Ctrl+Shift+Z (or Ctrl+Y) undo and redo; Ctrl+C / Ctrl+V copy and
  // paste the selected step. Text fields keep their own undo, copy and paste.
  document.addEventListener("keydown", (ev) => {
    if (!(ev.ctrlKey || ev.metaKey) || ev.altKey) return;
    const key = ev.key.toLowerCase();
    if (key === "s" && canChange) {
      ev.preventDefault();
      save();
      return;
    }
    const typing = ev.target.matches &&
      ev.target.matches("textarea, [contenteditable], input:not([type=checkbox]):not([type=radio]):not([type=button])");
    if (typing || !canChange) return;
    if (key === "z" && !ev.shiftKey) {
      ev.preventDefault();
      undo();
    } else if ((key === "z" && ev.shiftKey) || key === "y") {
      ev.preventDefault();
      redo();
    } else if (key === "c" && selected && !String(window.getSelection() || "")) {
      copyStep();
    } else if (key === "v" && clipboard) {
      ev.preventDefault();
      pasteStep();
    }
  });

  // ---- zoom, fit to screen and the minimap ---------------------------------------------------

  function zoomLabel() {
    const button = document.getElementById("btn-zoom-reset");
    if (!button) return;
    const percent = Math.round(editor.zoom * 100);
    button.textContent = `${percent} %`;
    button.setAttribute("aria-label", t.zoomIs.replace("{percent}", percent));
  }

  function bounds() {
    const home = editor.drawflow.drawflow[editor.module].data;
    const all = Object.values(home);
    if (!all.length) return null;
    return {
      x0: Math.min(...all.map((i) => i.pos_x)),
      y0: Math.min(...all.map((i) => i.pos_y)),
      x1: Math.max(...all.map((i) => i.pos_x)) + STEP_W,
      y1: Math.max(...all.map((i) => i.pos_y)) + STEP_H,
    };
  }

  // Zoom and pan so every step is in view. Drawflow scales around the centre of its box:
  // a point p shows at (p - c) * zoom + c + translate.
  function fit() {
    const b = bounds();
    if (!b) return;
    const w = canvasEl.clientWidth;
    const h = canvasEl.clientHeight;
    const pad = 40;
    const zoom = Math.max(editor.zoom_min, Math.min(1, (w - pad) / (b.x1 - b.x0), (h - pad) / (b.y1 - b.y0)));
    editor.zoom = zoom;
    editor.zoom_last_value = zoom;
    editor.canvas_x = -((b.x0 + b.x1) / 2 - w / 2) * zoom;
    editor.canvas_y = -((b.y0 + b.y1) / 2 - h / 2) * zoom;
    applyTransform();
    zoomLabel();
    status(t.fitted);
  }

  const minimap = document.getElementById("minimap");
  let minimapFrame = null;
  let minimapScale = null;

  function renderMinimap() {
    if (!minimap || minimapFrame !== null) return;
    minimapFrame = requestAnimationFrame(drawMinimap);
  }

  function drawMinimap() {
    minimapFrame = null;
    const b = bounds();
    if (!b) {
      minimap.replaceChildren();
      return;
    }
    const w = canvasEl.clientWidth;
    const h = canvasEl.clientHeight;
    const z = editor.zoom;
    // the part of the canvas in view, in step coordinates
    const view = {
      x0: (-w / 2 - editor.canvas_x) / z + w / 2,
      y0: (-h / 2 - editor.canvas_y) / z + h / 2,
      x1: (w / 2 - editor.canvas_x) / z + w / 2,
      y1: (h / 2 - editor.canvas_y) / z + h / 2,
    };
    const x0 = Math.min(b.x0, view.x0);
    const y0 = Math.min(b.y0, view.y0);
    const x1 = Math.max(b.x1, view.x1);
    const y1 = Math.max(b.y1, view.y1);
    const mw = minimap.clientWidth || 180;
    const mh = minimap.clientHeight || 120;
    const k = Math.min(mw / (x1 - x0), mh / (y1 - y0));
    minimapScale = { k, x0, y0 };
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("width", mw);
    svg.setAttribute("height", mh);
    const rect = (x, y, rw, rh, cls) => {
      const r = document.createElementNS(ns, "rect");
      r.setAttribute("x", (x - x0) * k);
      r.setAttribute("y", (y - y0) * k);
      r.setAttribute("width", Math.max(1, rw * k));
      r.setAttribute("height", Math.max(1, rh * k));
      r.setAttribute("class", cls);
      svg.append(r);
    };
    for (const [df, info] of Object.entries(editor.drawflow.drawflow[editor.module].data)) {
      rect(info.pos_x, info.pos_y, STEP_W - 30, STEP_H - 30, df === selected ? "mm-step mm-current" : "mm-step");
    }
    rect(view.x0, view.y0, view.x1 - view.x0, view.y1 - view.y0, "mm-view");
    minimap.replaceChildren(svg);
  }

  // A press on the minimap brings that part of the journey to the middle of the canvas.
  if (minimap) {
    minimap.addEventListener("click", (ev) => {
      if (!minimapScale) return;
      const r = minimap.getBoundingClientRect();
      const px = (ev.clientX - r.left) / minimapScale.k + minimapScale.x0;
      const py = (ev.clientY - r.top) / minimapScale.k + minimapScale.y0;
      const w = canvasEl.clientWidth;
      const h = canvasEl.clientHeight;
      editor.canvas_x = -(px - w / 2) * editor.zoom;
      editor.canvas_y = -(py - h / 2) * editor.zoom;
      applyTransform();
    });
  }

  // ---- problems ------------------------------------------------------------------------------

  // A send step's badge: how many compliance findings its templates have, and the worst grade
  // (Check's problems with a grade whose field is one of its templates'). The step itself is
  // focusable and names them; its panel links each finding to the template editor.
  function templateFindings(n) {
    if (!n || n.type !== "send") return [];
    const keys = [n.params.template, n.params.fallback_template].filter(Boolean);
    const seen = new Set();
    return problems.filter((p) => {
      if (!p.grade || !p.field || !keys.some((k) => p.field.startsWith("templates." + k + "."))) return false;
      const key = p.code + "|" + p.field;
      return !seen.has(key) && seen.add(key);
    });
  }

  function worstGrade(list) {
    return ["BLOCK", "HIGH", "MED"].find((g) => list.some((p) => p.grade === g)) || list[0].grade;
  }

  function findingsSummary(list) {
    const codes = [...new Set(list.map((p) => p.code))].join(", ");
    return t.findingsBadge.replace("{n}", list.length).replace("{grade}", worstGrade(list)).replace("{codes}", codes);
  }

  function findingHref(p) {
    // templates.<key>.<locale>.tone<n>[.<part>]: the editor opens that variant on the finding
    const [, key, locale, tone] = p.field.split(".");
    const query = new URLSearchParams({ template: key, locale, tone: (tone || "").replace("tone", ""), finding: p.code });
    return `${cfg.urls.templates}?${query}`;
  }

  function showFindings(df) {
    const box = nodeEl(df);
    const holder = box && box.querySelector(".node-findings");
    if (!holder) return;
    holder.replaceChildren();
    const found = templateFindings(nodes.get(df));
    refreshNode(df);
    if (!found.length || !cfg.urls.templates) return;
    const grade = worstGrade(found);
    // not a link: the step is the focusable control (a link inside it would be nested); the
    // mouse may still follow the badge, the keyboard follows the links in the step's panel
    const badge = el("span", { class: "finding-badge sev-" + grade.toLowerCase(), title: findingsSummary(found) },
      `${found.length} · ${grade}`);
    badge.addEventListener("click", (ev) => { ev.stopPropagation(); window.location.href = findingHref(found[0]); });
    holder.append(badge);
  }

  function findingsPanel(n) {
    const found = templateFindings(n);
    if (!found.length || !cfg.urls.templates) return null;
    return el("section", { class: "step-findings", "aria-labelledby": "step-findings-title" },
      el("h4", { id: "step-findings-title" }, findingsSummary(found)),
      el("ul", {}, found.map((p) => el("li", { class: "sev-" + p.grade.toLowerCase() },
        el("a", { href: findingHref(p) }, `${p.grade} ${p.code}`), " ", p.message))));
  }

  function showProblems(list) {
    problems = list || [];
    for (const [df] of nodes) {
      const box = nodeEl(df);
      if (!box) continue;
      box.classList.remove("has-problem", "has-warning");
      box.querySelector(".node-problem").textContent = "";
      showFindings(df);
    }
    const byNode = {};
    for (const p of problems) if (p.node) (byNode[p.node] = byNode[p.node] || []).push(p);
    for (const [id, found] of Object.entries(byNode)) {
      const df = dfOf.get(id);
      const box = df && nodeEl(df);
      if (!box) continue;
      // a compliance warning (HIGH/MED) is shown but blocks nothing: amber, not red
      box.classList.add(found.some((p) => p.severity !== "warning") ? "has-problem" : "has-warning");
      box.querySelector(".node-problem").textContent = found[0].message + (found.length > 1 ? ` (+${found.length - 1})` : "");
    }
    const ul = document.getElementById("problems");
    if (ul) {
      ul.replaceChildren();
      if (!problems.length) ul.append(el("li", { class: "ok" }, t.noProblems));
      for (const p of problems) {
        const df = p.node && dfOf.get(p.node);
        const text = `${p.field ? p.field + ": " : ""}${p.message}`;
        ul.append(el("li", p.severity === "warning" ? { class: "warning" } : {}, df
          ? el("button", { type: "button", class: "link", onclick: () => { select(df); focusProblemField(p); } },
            el("strong", {}, (nodes.get(df).label || p.node) + ": "), text)
          : el("span", {}, el("strong", {}, t.journey + ": "), text)));
      }
    }
    // A problem line makes its step taller and moves its ports: the wires follow at once.
    drawWires();
    renderPanel();
  }

  function focusProblemField(p) {
    const target = document.querySelector("#node-form [aria-invalid='true']") || document.getElementById("f-label");
    if (target) target.focus();
  }

  // ---- diff marks (read-only canvases) -------------------------------------------------------

  function applyMarks() {
    for (const [id, mark] of Object.entries(cfg.marks || {})) {
      const df = dfOf.get(id);
      const box = df && nodeEl(df);
      if (!box) continue;
      box.classList.add("mark-" + mark);
      const words = { added: t.markAdded, changed: t.markChanged, rewired: t.markRewired };
      box.querySelector(".node-mark").textContent = words[mark] || mark;
    }
  }

  // ---- toolbar -------------------------------------------------------------------------------

  // A draft is saved in place, problems and all (they are shown, and keep it from being
  // submitted); a new draft (the version was submitted meanwhile) opens at its own address.
  async function save() {
    status(t.saving);
    const { response, data } = await post(cfg.urls.save, currentDocument());
    if (response.status === 403) return status(t.forbidden);
    if (!data) return status(t.failed);
    if (data.ok) {
      dirty = false;
      if (data.created) {
        status(data.message || t.saved);
        window.location.assign(data.url);
        return;
      }
      showProblems(data.problems);
      status(data.message || t.saved);
      return;
    }
    showProblems(data.problems);
    status(data.message || t.problemsFound.replace("{n}", data.problems.length));
  }

  async function check() {
    status(t.checking);
    const { data } = await post(cfg.urls.check, currentDocument());
    if (!data) return status(t.failed);
    showProblems(data.problems);
    status(data.ok ? t.noProblems : t.problemsFound.replace("{n}", data.problems.length));
  }

  async function arrange() {
    const { data } = await post(cfg.urls.layout, currentDocument());
    if (!data || !data.positions) return status(t.failed);
    const home = editor.drawflow.drawflow[editor.module].data;
    for (const [id, pos] of Object.entries(data.positions)) {
      const df = dfOf.get(id);
      if (!df || !home[df]) continue;
      home[df].pos_x = pos.x;
      home[df].pos_y = pos.y;
      const box = nodeEl(df);
      box.style.left = pos.x + "px";
      box.style.top = pos.y + "px";
      editor.updateConnectionNodes("node-" + df);
    }
    markDirty();
    status(t.arranged);
  }

  function on(id, handler) {
    const button = document.getElementById(id);
    if (button) button.addEventListener("click", handler);
  }

  on("btn-save", save);
  on("btn-check", check);
  on("btn-arrange", arrange);
  on("btn-zoom-in", () => editor.zoom_in());
  on("btn-zoom-out", () => editor.zoom_out());
  on("btn-zoom-reset", () => editor.zoom_reset());
  on("btn-fit", fit);
  on("btn-undo", undo);
  on("btn-redo", redo);
  editor.on("zoom", () => {
    zoomLabel();
    renderMinimap();
  });
  editor.on("translate", renderMinimap);

  // ---- palette: press or drag ----------------------------------------------------------------

  for (const button of canChange ? document.querySelectorAll(".palette-item") : []) {
    button.addEventListener("click", () => addFromPalette(button.dataset.type));
    button.addEventListener("dragstart", (ev) => {
      ev.dataTransfer.setData("text/plain", button.dataset.type);
      ev.dataTransfer.effectAllowed = "copy";
    });
  }
  canvasEl.addEventListener("dragover", (ev) => ev.preventDefault());
  canvasEl.addEventListener("drop", (ev) => {
    ev.preventDefault();
    const type = ev.dataTransfer.getData("text/plain");
    if (!types[type] || !canChange) return;
    const rect = editor.precanvas.getBoundingClientRect();
    const scale = editor.precanvas.clientWidth / (editor.precanvas.clientWidth * editor.zoom);
    addFromPalette(type, {
      x: ev.clientX * scale - rect.x * scale,
      y: ev.clientY * scale - rect.y * scale,
    });
  });

  // ---- Drawflow events -----------------------------------------------------------------------

  editor.on("nodeSelected", (id) => select(String(id)));
  // Drawflow's fixed mode selects nothing on a click: a read-only canvas still shows the step.
  if (!canChange) {
    canvasEl.addEventListener("click", (ev) => {
      const box = ev.target.closest(".drawflow-node");
      if (box) select(box.id.replace("node-", ""));
    });
  }
  editor.on("nodeRemoved", (id) => {
    const df = String(id);
    const n = nodes.get(df);
    if (n) dfOf.delete(n.id);
    nodes.delete(df);
    if (selected === df) selected = null;
    markDirty();
    renderPanel();
  });
  editor.on("nodeMoved", () => {
    markDirty();
    renderMinimap();
  });
  // One output, one wire: a wire drawn from a connected output replaces the old one.
  editor.on("connectionCreated", (c) => {
    if (loading) return;
    const info = editor.getNodeFromId(c.output_id);
    const out = info && info.outputs[c.output_class];
    if (!out) return;
    const others = out.connections.map((x) => String(x.node)).filter((x) => x !== String(c.input_id));
    for (const other of others) {
      editor.removeSingleConnection(c.output_id, other, c.output_class, "input_1");
    }
    const n = nodes.get(String(c.output_id));
    if (others.length && n) {
      const port = n.ports[Number(c.output_class.replace("output_", "")) - 1];
      status(t.rewired.replace("{port}", port ? port.label : c.output_class)
        .replace("{label}", n.label || n.id).replace("{target}", stepName(String(c.input_id))));
    }
  });
  for (const event of ["connectionCreated", "connectionRemoved"]) {
    editor.on(event, () => {
      markDirty();
      if (selected && nodes.has(selected) && !loading) renderPorts(selected);
    });
  }

  const picker = document.getElementById("node-picker");
  if (picker) picker.addEventListener("change", () => select(picker.value || null));

  window.addEventListener("beforeunload", (ev) => {
    if (dirty && canChange) {
      ev.preventDefault();
      ev.returnValue = t.unsaved;
    }
  });

  load(baseDoc);
  if (cfg.problems && cfg.problems.length) showProblems(cfg.problems);
  else renderPanel();
  history.last = { doc: JSON.stringify(currentDocument()), at: null };
  undoButtons();
  zoomLabel();
  renderMinimap();
  // For tests and the curious: the document the canvas would save right now.
  window.mahnwerkCanvas = {
    currentDocument, editor, select: (id) => select(dfOf.get(id)), undo, redo, fit,
  };
  // The canvas shows the journey and the panel answers: tests and bench/designer_bench.py wait
  // for this.
  document.dispatchEvent(new CustomEvent("mahnwerk:canvas-ready", { detail: { steps: nodes.size } }));
})();
