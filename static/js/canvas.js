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

  const nodes = new Map(); // Drawflow id (string) -> {id, type, label, params, ports}
  const dfOf = new Map(); // document node id -> Drawflow id
  let selected = null; // Drawflow id of the step in the side panel
  let problems = [];
  let dirty = false;
  let loading = false;

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
    if (!loading && canChange) dirty = true;
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
    box.setAttribute("aria-label", `${typeLabel(n.type)}: ${n.label || n.id}`);
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
    return { ...baseDoc, nodes: docNodes, edges };
  }

  function newId(type) {
    let i = 1;
    while (dfOf.has(`${type}_${i}`)) i += 1;
    return `${type}_${i}`;
  }

  function addFromPalette(type, position) {
    const spec = types[type];
    if (!spec) return null;
    const id = newId(type);
    let pos = position;
    if (!pos) {
      const anchor = selected && editor.getNodeFromId(selected);
      pos = anchor
        ? { x: anchor.pos_x + 260, y: anchor.pos_y }
        : { x: 40 + nodes.size * 30, y: 40 + nodes.size * 30 };
    }
    const df = addNode({
      id, type, label: spec.label, params: structuredClone(spec.defaults || {}),
      position: pos, ports: spec.ports,
    });
    markDirty();
    select(df);
    status(t.added.replace("{label}", spec.label));
    return df;
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
      form.append(el("button", {
        type: "button", class: "danger", id: "btn-delete", onclick: () => {
          editor.removeNodeId("node-" + df);
          status(t.deleted);
          document.getElementById("node-picker").focus();
        },
      }, t.deleteStep));
    }
  }

  function select(df) {
    if (selected && nodeEl(selected)) nodeEl(selected).classList.remove("is-current");
    selected = df && nodes.has(df) ? df : null;
    if (selected && nodeEl(selected)) nodeEl(selected).classList.add("is-current");
    renderPanel();
  }

  // ---- problems ------------------------------------------------------------------------------

  function showProblems(list) {
    problems = list || [];
    for (const [df] of nodes) {
      const box = nodeEl(df);
      if (!box) continue;
      box.classList.remove("has-problem", "has-warning");
      box.querySelector(".node-problem").textContent = "";
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
  editor.on("nodeMoved", markDirty);
  for (const event of ["connectionCreated", "connectionRemoved"]) {
    editor.on(event, () => {
      markDirty();
      if (selected) renderPorts(selected);
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
  // For tests and the curious: the document the canvas would save right now.
  window.mahnwerkCanvas = { currentDocument, editor, select: (id) => select(dfOf.get(id)) };
  // The canvas shows the journey and the panel answers: tests and bench/designer_bench.py wait
  // for this.
  document.dispatchEvent(new CustomEvent("mahnwerk:canvas-ready", { detail: { steps: nodes.size } }));
})();
