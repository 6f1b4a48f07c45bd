// The mmkp page: one post in, keyphrases and the model's diagnostics out. No build step.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { image: null, result: null }; // image: a data: URL
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

function colour(value) {
  const x = Math.min(1, Math.max(0, value)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const t = x - i;
  return VIRIDIS[i].map((c, k) => Math.round(c + (VIRIDIS[i + 1][k] - c) * t));
}

function el(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function setImage(dataUrl) {
  state.image = dataUrl;
  $("preview").hidden = !dataUrl;
  $("clear-image").hidden = !dataUrl;
  $("drop-hint").hidden = Boolean(dataUrl);
  if (dataUrl) $("preview").src = dataUrl; else $("preview").removeAttribute("src");
}

function readFile(file) {
  if (!file) return;
  if (!file.type.startsWith("image/")) {
    showError(`${file.name} is not an image (${file.type || "unknown type"})`);
    return;
  }
  const reader = new FileReader();
  reader.onload = () => { showError(""); setImage(reader.result); };
  reader.onerror = () => showError(`cannot read ${file.name}`);
  reader.readAsDataURL(file);
}

// The API key, when the server wants one (a 401): asked once per page load, however many
// requests were refused, and kept for the tab's session (never in the page's URL).
const KEY = "mmkp-api-key";
let keyAsked = null;

function askKey() {
  keyAsked = (window.prompt("This server wants an API key:") || "").trim();
  if (keyAsked) sessionStorage.setItem(KEY, keyAsked);
}

function send(path, body) {
  const headers = {};
  const key = sessionStorage.getItem(KEY);
  if (key) headers["X-API-Key"] = key;
  if (body === undefined) return fetch(path, { headers });
  headers["Content-Type"] = "application/json";
  return fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
}

async function api(path, body) {
  let response = await send(path, body);
  if (response.status === 401) {
    if (keyAsked === null) askKey(); // requests refused together share the one prompt
    if (sessionStorage.getItem(KEY)) response = await send(path, body);
  }
  let data = null;
  try { data = await response.json(); } catch (_) { /* not JSON: reported below */ }
  if (!response.ok) {
    const error = data && data.error;
    const where = error && error.field ? ` (${error.field})` : "";
    throw new Error(error ? `${error.message}${where}` : `HTTP ${response.status}`);
  }
  return data;
}

async function submit() {
  const text = $("text").value;
  showError("");
  if (!text.trim()) { showError("Type the post's text first."); return; }
  $("submit").disabled = true;
  $("submit").textContent = "Reading the post…";
  try {
    const body = { text };
    if (state.image) body.image_base64 = state.image;
    state.result = await api("/v1/keyphrases", body);
    render(state.result);
  } catch (error) {
    showError(error.message);
  } finally {
    $("submit").disabled = false;
    $("submit").textContent = "Get keyphrases";
  }
}

function render(result) {
  $("results").hidden = false;
  const list = $("keyphrases");
  list.replaceChildren();
  for (const kp of result.keyphrases) {
    const width = `${(100 * Math.exp(kp.score)).toFixed(1)}%`;
    const bar = el("div", { className: "bar" }, [el("div", { style: `width:${width}` })]);
    const row = el("div", { className: "row" }, [
      el("span", { className: "kp", textContent: kp.text }), bar,
      el("span", { className: "score", textContent: kp.score.toFixed(3) }),
    ]);
    list.append(el("li", {}, [row]));
  }
  if (!result.keyphrases.length) list.append(el("li", { textContent: "(no keyphrase)" }));
  renderMatch(result.match_score);
  renderEntities(result.entities);
  renderOcr(result.ocr);
  $("seen").textContent = `read as: “${result.text}”` + (result.ocr_text ? ` · OCR: “${result.ocr_text}”` : "");
  const t = result.timings;
  $("timings").textContent = `${result.model} · ${t.total_ms.toFixed(0)} ms (featurize ${t.featurize_ms.toFixed(0)}, decode ${t.decode_ms.toFixed(0)}, batch of ${t.batch_posts})`;
  $("figure").hidden = !state.image;
  if (state.image) {
    const photo = $("photo");
    photo.onload = () => drawOverlay();
    photo.src = state.image;
    if (photo.complete && photo.naturalWidth) drawOverlay();
  }
}

function renderMatch(score) {
  $("match").hidden = false;
  const fill = $("gauge-fill");
  if (score === null || score === undefined) {
    $("gauge-value").textContent = "–";
    fill.style.strokeDasharray = "0 252";
    $("needle").setAttribute("transform", "rotate(-90 100 100)");
    $("match-reading").textContent = state.image
      ? "this model does not score image-text match"
      : "no image: the keyphrases come from the text alone";
    return;
  }
  const length = Math.PI * 80;
  fill.style.strokeDasharray = `${score * length} ${length}`;
  $("needle").setAttribute("transform", `rotate(${-90 + 180 * score} 100 100)`);
  $("gauge-value").textContent = score.toFixed(2);
  $("match-reading").textContent = score >= 0.6
    ? "image related to the text: the model uses the image"
    : score >= 0.3
      ? "image partly related to the text: the model uses it with care"
      : "image unrelated to the text: the model relies on the text";
}

function renderEntities(entities) {
  $("entities-box").hidden = !entities.length;
  $("entities").replaceChildren(...entities.map((e) => {
    const score = e.score === null ? 0 : e.score;
    const bar = el("div", { className: "bar" }, [el("div", { style: `width:${(100 * score).toFixed(1)}%` })]);
    return el("li", { className: "row" }, [
      el("span", { textContent: e.name }), bar,
      el("span", { className: "score", textContent: e.score === null ? "" : e.score.toFixed(2) }),
    ]);
  }));
}

function renderOcr(lines) {
  $("ocr-box").hidden = !lines.length;
  $("ocr").replaceChildren(...lines.map((line) => el("li", {
    className: line.score < 0.8 ? "faint" : "",
    textContent: `“${line.text}” (${line.score.toFixed(2)})`,
  })));
}

// The 7x7 sigmoid(A) over the whole image (the CNN sees it resized to a square, so cell
// (r, c) covers the same fraction of the image whatever its aspect), coloured over this
// post's own range of weights (the legend gives it; a trained filter moves them by a few
// hundredths), then the OCR boxes.
function drawOverlay() {
  const result = state.result;
  const photo = $("photo");
  const canvas = $("overlay");
  const w = photo.naturalWidth, h = photo.naturalHeight;
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, w, h);
  canvas.dataset.heatmap = "none";
  const regions = result && result.regions;
  if (regions && $("show-heatmap").checked) {
    ctx.globalAlpha = Number($("opacity").value);
    const side = regions.length;
    const values = regions.flat();
    const low = Math.min(...values), high = Math.max(...values);
    const span = high - low > 1e-6 ? high - low : 1;
    $("legend-low").textContent = low.toFixed(3);
    $("legend-high").textContent = high.toFixed(3);
    for (let r = 0; r < side; r++) {
      for (let c = 0; c < side; c++) {
        const [R, G, B] = colour((regions[r][c] - low) / span);
        ctx.fillStyle = `rgb(${R},${G},${B})`;
        const x0 = Math.round((c * w) / side), x1 = Math.round(((c + 1) * w) / side);
        const y0 = Math.round((r * h) / side), y1 = Math.round(((r + 1) * h) / side);
        ctx.fillRect(x0, y0, x1 - x0, y1 - y0);
      }
    }
    ctx.globalAlpha = 1;
    canvas.dataset.heatmap = `${side}x${side}`;
  }
  if (result && $("show-ocr").checked) {
    ctx.lineWidth = Math.max(2, w / 200);
    ctx.font = `${Math.max(12, Math.round(w / 28))}px system-ui, sans-serif`;
    for (const line of result.ocr) {
      ctx.strokeStyle = line.score >= 0.8 ? "#ff3b30" : "rgba(255,59,48,0.5)";
      ctx.beginPath();
      line.box.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.closePath();
      ctx.stroke();
      const [x, y] = line.box[0];
      const label = line.text;
      const pad = 3, tw = ctx.measureText(label).width, th = parseInt(ctx.font, 10);
      ctx.fillStyle = "rgba(255,255,255,0.85)";
      ctx.fillRect(x, Math.max(0, y - th - 2 * pad), tw + 2 * pad, th + 2 * pad);
      ctx.fillStyle = "#b42318";
      ctx.fillText(label, x + pad, Math.max(th, y - pad - 2));
    }
  }
}

async function loadExamples() {
  try {
    const examples = await api("/v1/examples");
    for (const example of examples) {
      const button = el("button", { type: "button", textContent: example.name, title: example.description });
      button.dataset.example = example.name;
      button.addEventListener("click", () => {
        $("text").value = example.text;
        setImage(example.image);
        showError("");
      });
      $("examples").append(button);
    }
  } catch (error) {
    showError(`examples: ${error.message}`);
  }
}

async function loadModel() {
  try {
    const info = await api("/v1/model");
    $("model-info").textContent = `model ${info.name}${info.directory ? ` (${info.directory})` : ""} · ${info.labels} labels · ${info.uses_image ? "reads images" : "text and OCR only"}`;
  } catch (error) {
    $("model-info").textContent = `model not ready: ${error.message}`;
  }
}

function init() {
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    readFile(event.dataTransfer.files[0]);
  });
  $("file").addEventListener("change", (event) => readFile(event.target.files[0]));
  $("clear-image").addEventListener("click", () => { setImage(null); $("file").value = ""; });
  $("submit").addEventListener("click", submit);
  $("text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) submit();
  });
  for (const id of ["show-heatmap", "opacity", "show-ocr"]) $(id).addEventListener("input", drawOverlay);
  window.addEventListener("error", (event) => showError(`page error: ${event.message}`));
  loadModel();
  loadExamples();
}

init();
