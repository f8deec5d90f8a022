// deepgrad Playground, the page. The server (Python, deepgrad) owns the settings, the
// data and the training; this script draws what it sends and sends what the user does.
// Protocol: see deepgrad/playground/server.py. No libraries, nothing from the network.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const NEG = [245, 147, 34], ZERO = [232, 234, 235], POS = [8, 119, 189];
  const HEAT_ALPHA = 160;          // the playground draws its maps at this opacity
  const NODE = 38, ROW = 50, TOP = 56;
  const FEATURE_FUNCS = {
    x: (a, b) => a, y: (a, b) => b, xSquared: (a, b) => a * a, ySquared: (a, b) => b * b,
    xTimesY: (a, b) => a * b, sinX: (a) => Math.sin(a), sinY: (a, b) => Math.sin(b),
  };

  let ws = null, sessionId = null, schema = null, limits = null, state = null, playing = false;
  let fatal = false, data = { train: [], test: [], classify: true }, net = null, last = null;
  let focusNode = null, previews = null, csvInfo = null, messageTimer = null;
  let nodeCanvases = [], biasEls = [], linkEls = [];

  // --- colours ------------------------------------------------------------------------
  function colorOf(v) {
    v = Math.max(-1, Math.min(1, v));
    const [from, to, t] = v < 0 ? [ZERO, NEG, -v] : [ZERO, POS, v];
    return from.map((c, i) => Math.round(c + (to[i] - c) * t));
  }
  const css = (rgb) => `rgb(${rgb[0]},${rgb[1]},${rgb[2]})`;
  const LUT = [], LUT_DISCRETE = [];
  for (let b = 0; b < 256; b++) {
    LUT.push(colorOf(b / 127.5 - 1));
    LUT_DISCRETE.push(b >= 128 ? POS : NEG);
  }

  function decode(b64) {
    const s = atob(b64), out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }

  function paint(canvas, bytes, n, discrete, alpha) {
    const ctx = canvas.getContext("2d"), img = ctx.createImageData(n, n), lut = discrete ? LUT_DISCRETE : LUT;
    for (let i = 0; i < n * n; i++) {
      const c = lut[bytes[i]];
      img.data[4 * i] = c[0]; img.data[4 * i + 1] = c[1]; img.data[4 * i + 2] = c[2]; img.data[4 * i + 3] = alpha;
    }
    ctx.putImageData(img, 0, 0);
  }

  // --- messages to the user -----------------------------------------------------------
  // Messages that arrive together (a link with several bad settings) are all shown, one per line.
  function showMessage(text, isFatal) {
    const box = $("message-text");
    const shown = $("message").hidden ? [] : box.textContent.split("\n");
    if (!shown.includes(text)) shown.push(text);
    box.textContent = shown.join("\n");
    $("message").hidden = false;
    clearTimeout(messageTimer);
    if (!isFatal) messageTimer = setTimeout(() => { $("message").hidden = true; }, 12000);
  }
  $("message-close").addEventListener("click", () => { $("message").hidden = true; });

  function setConnection(text, cls) {
    const el = $("connection");
    el.textContent = text;
    el.className = "connection " + cls;
  }

  // --- the connection -----------------------------------------------------------------
  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(`${proto}//${location.host}/ws${location.search}`);
    ws.addEventListener("open", () => setConnection("connected", "live"));
    ws.addEventListener("message", (event) => handle(JSON.parse(event.data)));
    ws.addEventListener("close", () => {
      setConnection("disconnected", "lost");
      document.body.classList.add("disconnected");
      if (!fatal) showMessage("Lost the connection to the server. Is `deepgrad playground` still running? " +
                              "Reload the page to start again.", true);
    });
  }

  function handle(msg) {
    switch (msg.type) {
      case "hello":
        sessionId = msg.session; schema = msg.schema; limits = msg.limits;
        fillSelects();
        $("export-model").href = `/api/sessions/${sessionId}/export/playground.safetensors`;
        $("export-script").href = `/api/sessions/${sessionId}/export/playground_predict.py`;
        break;
      case "state": onState(msg); break;
      case "data": data = msg; drawPoints(); break;
      case "network": net = msg; focusNode = null; buildNetwork(); break;
      case "update": last = msg; onUpdate(); break;
      case "error":
        if (msg.fatal) { fatal = true; setConnection("closed", "lost"); }
        showMessage(msg.message, msg.fatal);
        break;
    }
  }

  // --- controls -----------------------------------------------------------------------
  const fmt = (v) => String(v);
  function fillSelects() {
    const lists = {
      learningRate: schema.learningRates, regularizationRate: schema.regularizationRates,
      dropout: schema.dropoutRates, activation: schema.activations, regularization: schema.regularizations,
      optimizer: schema.optimizers, loss: schema.losses, problem: schema.problems,
    };
    const names = {
      relu: "ReLU", tanh: "Tanh", sigmoid: "Sigmoid", linear: "Linear", none: "None",
      sgd: "SGD", momentum: "SGD + momentum", adam: "Adam", rmsprop: "RMSprop",
      mse: "Squared error", softmax: "Softmax cross-entropy",
      classification: "Classification", regression: "Regression",
    };
    for (const [key, values] of Object.entries(lists)) {
      const select = $(key);
      select.textContent = "";
      for (const v of values) {
        const option = document.createElement("option");
        option.value = fmt(v);
        option.textContent = key === "dropout" ? (v === 0 ? "Off" : fmt(v)) : (names[v] || fmt(v));
        select.appendChild(option);
      }
    }
  }

  function onState(msg) {
    state = msg.state;
    playing = msg.playing;
    csvInfo = msg.csv;
    history.replaceState(null, "", "?" + msg.query);
    for (const el of document.querySelectorAll("[data-key]")) {
      const v = state[el.dataset.key];
      if (el.type === "checkbox") el.checked = v;
      else el.value = fmt(v);
      const label = $(el.dataset.key + "-value");
      if (label) label.textContent = el.dataset.key === "percTrainData" ? `${v}%` : fmt(v);
    }
    $("loss-control").hidden = state.problem !== "classification";
    $("noise").disabled = (state.problem === "classification" ? state.dataset : state.regDataset) === "csv";
    $("play-pause-button").classList.toggle("playing", playing);
    $("csv-info").textContent = csvInfo ? `uploaded: ${csvInfo.rows} points (${csvInfo.kind})` : "";
    const n = state.networkShape.length;
    $("num-layers").textContent = `${n} hidden layer${n === 1 ? "" : "s"}`;
    $("add-layer").disabled = n >= schema.maxLayers;
    $("remove-layer").disabled = n === 0;
    renderDatasets();
    drawPoints();
    if (last) drawHeatmap();
  }

  for (const el of document.querySelectorAll("[data-key]")) {
    const key = el.dataset.key;
    if (el.type === "range") {
      el.addEventListener("input", () => {
        $(key + "-value").textContent = key === "percTrainData" ? `${el.value}%` : el.value;
      });
    }
    el.addEventListener("change", () => {
      const value = el.type === "checkbox" ? el.checked : el.type === "range" ? Number(el.value) : el.value;
      send({ type: "set", state: { [key]: value } });
    });
  }
  $("play-pause-button").addEventListener("click", () => send({ type: playing ? "pause" : "play" }));
  $("next-step-button").addEventListener("click", () => send({ type: "step" }));
  $("reset-button").addEventListener("click", () => send({ type: "reset" }));
  $("regenerate").addEventListener("click", () => send({ type: "regenerate" }));
  $("add-layer").addEventListener("click", () => {
    if (state.networkShape.length < schema.maxLayers) setShape([...state.networkShape, 2]);
  });
  $("remove-layer").addEventListener("click", () => setShape(state.networkShape.slice(0, -1)));
  const setShape = (shape) => send({ type: "set", state: { networkShape: shape } });

  // --- data sets ----------------------------------------------------------------------
  function renderDatasets() {
    if (!previews || !state) return;
    const box = $("datasets"), classify = state.problem === "classification";
    const names = (classify ? schema.classifyDatasets : schema.regressDatasets).filter((d) => d !== "csv");
    if (csvInfo && (csvInfo.kind === "classification" || !classify)) names.push("csv");
    const active = classify ? state.dataset : state.regDataset;
    box.textContent = "";
    for (const name of names) {
      const tile = document.createElement("button");
      tile.className = "dataset" + (name === active ? " selected" : "") + (name === "csv" ? " csv-tile" : "");
      tile.dataset.dataset = name;
      tile.title = name;
      if (name === "csv") tile.textContent = "CSV";
      else {
        const canvas = document.createElement("canvas");
        canvas.width = 44; canvas.height = 44;
        const ctx = canvas.getContext("2d");
        for (const [x, y, label] of previews[name]) {
          ctx.fillStyle = css(colorOf(label));
          ctx.fillRect((x + 6) / 12 * 44 - 1, (6 - y) / 12 * 44 - 1, 2, 2);
        }
        tile.appendChild(canvas);
      }
      tile.addEventListener("click", () => send({ type: "set", state: { [classify ? "dataset" : "regDataset"]: name } }));
      box.appendChild(tile);
    }
  }

  $("csv-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (!file || !sessionId) return;
    if (limits && file.size > limits.csvBytes) {
      showMessage(`That file is ${file.size} bytes; the limit is ${limits.csvBytes}.`);
      return;
    }
    try {
      const response = await fetch(`/api/sessions/${sessionId}/csv`, {
        method: "POST", body: await file.text(), headers: { "content-type": "text/csv" },
      });
      if (!response.ok) showMessage((await response.json()).error.message);
    } catch (error) {
      showMessage(`Upload failed: ${error}`);
    }
  });

  // --- the network diagram ------------------------------------------------------------
  function columnX(layer, count, width) {
    const first = 96, lastX = width - 90;
    return count <= 1 ? first : first + (lastX - first) * layer / (count - 1);
  }

  function buildNetwork() {
    if (!net || !state || !schema) return;
    const box = $("network"), svg = $("links");
    for (const el of [...box.querySelectorAll(".node, .layer-head")]) el.remove();
    svg.textContent = "";
    const width = Math.max(480, box.clientWidth), layers = net.layers, nCols = layers.length;
    const featureKeys = Object.keys(schema.features);
    const rows = Math.max(featureKeys.length, ...layers.slice(1));
    const height = TOP + rows * ROW;
    box.style.height = `${height}px`;
    svg.setAttribute("width", width); svg.setAttribute("height", height);
    nodeCanvases = []; biasEls = []; linkEls = [];
    const pos = [];   // pos[layer][index] = [x, y] of the node's top-left corner

    // inputs: every feature, the inactive ones faded
    const inputPos = [], activeKeys = featureKeys.filter((k) => state[k]);
    nodeCanvases.push([]);
    featureKeys.forEach((key, row) => {
      const x = columnX(0, nCols, width), y = TOP + row * ROW, active = state[key];
      const node = makeNode(x, y, "input" + (active ? "" : " inactive"), schema.features[key]);
      node.title = `${schema.features[key]}: click to switch ${active ? "off" : "on"}`;
      node.dataset.feature = key;
      node.addEventListener("click", () => send({ type: "set", state: { [key]: !state[key] } }));
      paintFeature(node.querySelector("canvas"), key);
      if (active) {
        const index = activeKeys.indexOf(key);
        inputPos[index] = [x, y];
        nodeCanvases[0][index] = node.querySelector("canvas");
        hoverFocus(node, 0, index, schema.features[key]);
      }
    });
    pos.push(inputPos);

    for (let layer = 1; layer < nCols; layer++) {
      const count = layers[layer], x = columnX(layer, nCols, width), output = layer === nCols - 1;
      const offset = output ? Math.floor((rows - count) / 2) : 0;
      const column = [], canvases = [], biases = [];
      for (let i = 0; i < count; i++) {
        const y = TOP + (i + offset) * ROW;
        const label = output ? (net.softmax ? (i ? "class +1" : "class −1") : "output") : null;
        const node = makeNode(x, y, output ? "output-node" : "hidden", label);
        node.dataset.layer = layer; node.dataset.index = i;
        const name = output ? `output${net.softmax ? ` (${label})` : ""}` : `layer ${layer}, neuron ${i + 1}`;
        hoverFocus(node, layer, i, name);
        const bias = document.createElement("div");
        bias.className = "bias";
        node.appendChild(bias);
        paramHandlers(bias, () => `Bias of ${name}`, () => last && last.biases[layer - 1][i],
                      (value) => ({ type: "setBias", layer: layer - 1, node: i, value }));
        column.push([x, y]); canvases.push(node.querySelector("canvas")); biases.push(bias);
      }
      pos.push(column); nodeCanvases.push(canvases); biasEls.push(biases);
      if (!output) layerHead(layer, x);
    }

    // links: layer L connects pos[L] to pos[L + 1]
    const names = (L, i) => (L === 0 ? net.features[i] : `layer ${L}, neuron ${i + 1}`);
    for (let L = 0; L < nCols - 1; L++) {
      const matrix = [];
      pos[L + 1].forEach(([x2, y2], j) => {
        const row = [];
        pos[L].forEach(([x1, y1], i) => {
          const d = `M${x1 + NODE},${y1 + NODE / 2} C${(x1 + NODE + x2) / 2},${y1 + NODE / 2} ` +
                    `${(x1 + NODE + x2) / 2},${y2 + NODE / 2} ${x2},${y2 + NODE / 2}`;
          const path = svgPath(d, "link"), hit = svgPath(d, "link-hit");
          hit.dataset.link = `${L}-${j}-${i}`;
          const target = L === nCols - 2 ? "the output" : `layer ${L + 1}, neuron ${j + 1}`;
          paramHandlers(hit, () => `Weight ${names(L, i)} → ${target}`, () => last && last.weights[L][j][i],
                        (value) => ({ type: "setWeight", layer: L, node: j, source: i, value }));
          row.push(path);
        });
        matrix.push(row);
      });
      linkEls.push(matrix);
    }
    if (last && last.maps.length === nCols - 1) onUpdate();
  }

  function makeNode(x, y, cls, label) {
    const node = document.createElement("div");
    node.className = "node " + cls;
    node.style.left = `${x}px`; node.style.top = `${y}px`;
    const canvas = document.createElement("canvas");
    canvas.width = net.thumb; canvas.height = net.thumb;
    node.appendChild(canvas);
    if (label) {
      const span = document.createElement("span");
      span.className = "node-label";
      span.textContent = label;
      node.appendChild(span);
    }
    $("network").appendChild(node);
    return node;
  }

  function layerHead(layer, x) {
    const head = document.createElement("div");
    head.className = "layer-head";
    head.style.left = `${x + NODE / 2 - 30}px`; head.style.top = "0px";
    const size = state.networkShape[layer - 1];
    const pm = document.createElement("div");
    pm.className = "pm";
    for (const [text, delta] of [["+", 1], ["−", -1]]) {
      const b = document.createElement("button");
      b.className = "round tiny";
      b.textContent = text;
      b.title = `${delta > 0 ? "Add" : "Remove"} a neuron in layer ${layer}`;
      b.setAttribute("aria-label", b.title);
      b.disabled = delta > 0 ? size >= schema.maxNeurons : size <= 1;
      b.dataset.layer = layer; b.dataset.delta = delta;
      b.addEventListener("click", () => {
        const shape = [...state.networkShape];
        shape[layer - 1] += delta;
        setShape(shape);
      });
      pm.appendChild(b);
    }
    const text = document.createElement("span");
    text.textContent = `${size} neuron${size === 1 ? "" : "s"}`;
    head.append(pm, text);
    $("network").appendChild(head);
  }

  function svgPath(d, cls) {
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", d);
    path.setAttribute("class", cls);
    $("links").appendChild(path);
    return path;
  }

  function paintFeature(canvas, key) {
    const n = net.thumb, values = new Float32Array(n * n), step = (net.grid / n) | 0;
    let max = 1e-6;
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) {
        const x = -6 + 12 * (c * step) / (net.grid - 1), y = 6 - 12 * (r * step) / (net.grid - 1);
        const v = FEATURE_FUNCS[key](x, y);
        values[r * n + c] = v;
        max = Math.max(max, Math.abs(v));
      }
    }
    paint(canvas, values.map((v) => Math.round((v / max + 1) * 127.5)), n, false, 255);
  }

  function hoverFocus(node, layer, index, name) {
    node.addEventListener("mouseenter", () => {
      focusNode = [layer, index];
      node.classList.add("focused");
      $("focus-label").textContent = `showing ${name}`;
      send({ type: "focus", node: focusNode });
    });
    node.addEventListener("mouseleave", () => {
      focusNode = null;
      node.classList.remove("focused");
      $("focus-label").textContent = "";
      send({ type: "focus", node: null });
      drawHeatmap();
    });
  }

  // hover shows a weight or bias; a click opens a box to type a new value
  function paramHandlers(el, describe, current, message) {
    const tip = $("tooltip");
    el.addEventListener("mousemove", (event) => {
      const v = current();
      tip.textContent = `${describe()}: ${v === null || v === undefined ? "NaN" : v.toFixed(3)}`;
      tip.style.left = `${event.clientX + 12}px`; tip.style.top = `${event.clientY + 12}px`;
      tip.hidden = false;
    });
    el.addEventListener("mouseleave", () => { tip.hidden = true; });
    el.addEventListener("click", (event) => {
      event.stopPropagation();
      const editor = $("editor"), input = $("editor-input");
      editor.style.left = `${event.clientX}px`; editor.style.top = `${event.clientY}px`;
      editor.hidden = false;
      const v = current();
      input.value = v === null || v === undefined ? "" : String(v);
      input.focus(); input.select();
      editor.onsubmit = (e) => {
        e.preventDefault();
        editor.hidden = true;
        const text = input.value.trim(), number = Number(text);
        send(message(text !== "" && Number.isFinite(number) ? number : text));
      };
      input.onblur = () => { editor.hidden = true; };
      input.onkeydown = (e) => { if (e.key === "Escape") editor.hidden = true; };
    });
  }

  // --- updates ------------------------------------------------------------------------
  function onUpdate() {
    const u = last;
    playing = u.playing;
    $("play-pause-button").classList.toggle("playing", playing);
    const epoch = String(u.epoch).padStart(6, "0");
    $("epoch-number").textContent = `${epoch.slice(0, -3)},${epoch.slice(-3)}`;
    $("loss-test").textContent = u.testLoss === null ? "NaN" : u.testLoss.toFixed(3);
    $("loss-train").textContent = u.trainLoss === null ? "NaN" : u.trainLoss.toFixed(3);
    document.body.dataset.epoch = u.epoch;
    drawHeatmap();
    drawChart(u.history);
    if (nodeCanvases.length === u.maps.length + 1) {
      u.maps.forEach((maps, l) => maps.forEach((b64, i) => {
        const canvas = nodeCanvases[l + 1][i];
        if (canvas) paint(canvas, decode(b64), net.thumb, false, 255);
      }));
    }
    if (linkEls.length === u.weights.length) {
      u.weights.forEach((matrix, L) => matrix.forEach((row, j) => row.forEach((w, i) => {
        const path = linkEls[L][j] && linkEls[L][j][i];
        if (!path) return;
        const value = w === null ? 0 : w;
        path.setAttribute("stroke", css(colorOf(value)));
        path.setAttribute("stroke-width", Math.min(10, 1 + Math.abs(value) * 9 / 5).toFixed(2));
      })));
      u.biases.forEach((row, L) => row.forEach((b, i) => {
        const el = biasEls[L] && biasEls[L][i];
        if (el) el.style.background = css(colorOf(b === null ? 0 : b));
      }));
    }
    drawDiagnostics(u);
  }

  function drawHeatmap() {
    if (!last) return;
    const focused = focusNode && last.focusMap && last.focus &&
                    last.focus[0] === focusNode[0] && last.focus[1] === focusNode[1];
    const bytes = decode(focused ? last.focusMap : last.heat);
    paint($("heatmap"), bytes, net ? net.grid : 100, !focused && state && state.discretize, HEAT_ALPHA);
  }

  function drawPoints() {
    const canvas = $("points"), ctx = canvas.getContext("2d"), size = canvas.width;
    ctx.clearRect(0, 0, size, size);
    if (!state) return;
    const sets = [[data.train, "#fff"]];
    if (state.showTestData) sets.push([data.test, "#000"]);
    for (const [points, stroke] of sets) {
      ctx.strokeStyle = stroke;
      ctx.lineWidth = 1;
      for (const [x, y, label] of points) {
        ctx.beginPath();
        ctx.arc((x + 6) / 12 * size, (6 - y) / 12 * size, 3.5, 0, 2 * Math.PI);
        ctx.fillStyle = css(colorOf(label));
        ctx.fill();
        ctx.stroke();
      }
    }
  }

  function drawChart(history) {
    const canvas = $("loss-chart"), ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    if (!history || !history.length) return;
    let max = 1e-9;
    for (const [, a, b] of history) max = Math.max(max, a || 0, b || 0);
    const e0 = history[0][0], e1 = Math.max(history[history.length - 1][0], e0 + 1);
    for (const [index, color] of [[1, "#999"], [2, "#000"]]) {
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      let started = false;
      for (const point of history) {
        if (point[index] === null) { started = false; continue; }
        const x = (point[0] - e0) / (e1 - e0) * (w - 2) + 1, y = h - 2 - point[index] / max * (h - 4);
        if (started) ctx.lineTo(x, y); else { ctx.moveTo(x, y); started = true; }
      }
      ctx.stroke();
    }
  }

  function drawDiagnostics(u) {
    const d = u.diagnostics;
    $("diag-gap").textContent = d.gap === null ? "–" :
      `${d.gap >= 0 ? "+" : ""}${d.gap.toFixed(3)}${d.gap > 0.05 ? "  (overfitting?)" : ""}`;
    $("diag-dead").textContent = d.deadRelu === null ? "– (no ReLU layers)" :
      d.deadRelu.map((f, i) => `L${i + 1} ${Math.round(f * 100)}%`).join(" · ");
    const box = $("diag-grads");
    box.textContent = "";
    d.gradNorm.forEach((g, i) => {
      const row = document.createElement("div");
      row.className = "row";
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = i === d.gradNorm.length - 1 ? "output" : `layer ${i + 1}`;
      const track = document.createElement("span");
      track.className = "track";
      const fill = document.createElement("span");
      const v = g === null ? Infinity : g;
      fill.className = "fill" + (v > 0 && v < 1e-3 ? " small" : v > 10 ? " large" : "");
      fill.style.width = `${Math.max(0, Math.min(1, (Math.log10(Math.max(v, 1e-6)) + 4) / 5)) * 100}%`;
      track.appendChild(fill);
      const num = document.createElement("span");
      num.className = "num";
      num.textContent = g === null ? "NaN" : g.toExponential(1);
      row.append(name, track, num);
      box.appendChild(row);
    });
  }

  // --- start --------------------------------------------------------------------------
  window.addEventListener("resize", () => buildNetwork());
  fetch("/api/datasets").then((r) => r.json()).then((p) => { previews = p; renderDatasets(); })
    .catch(() => showMessage("Could not load the data set previews."));
  connect();
})();
