// Web chat for a therapeutic-moe server: streams replies over SSE and colours each
// generated token by the expert that produced it. No build step, no external resources.
"use strict";

// Okabe-Ito palette: distinguishable with the common colour-vision deficiencies.
const PALETTE = ["#0072B2", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999"];

const state = { history: [], domains: [], busy: false, maxTokens: 256 };
const $ = (id) => document.getElementById(id);

function colourOf(expert) {
  return PALETTE[expert % PALETTE.length];
}

function tint(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

function setStatus(text) {
  $("status").textContent = text || "";
}

function renderLegend() {
  const legend = $("legend");
  legend.replaceChildren();
  if (!state.domains.length) {
    legend.textContent = "none (model without experts)";
    return;
  }
  state.domains.forEach((name, i) => {
    const item = document.createElement("span");
    item.className = "legend-item";
    item.dataset.expert = String(i);
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = colourOf(i);
    item.append(swatch, document.createTextNode(name));
    legend.append(item);
  });
}

async function loadModel() {
  try {
    const res = await fetch("/v1/models");
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const model = (await res.json()).data[0];
    state.domains = model.experts || [];
    state.maxTokens = Math.min(256, model.max_new_tokens_limit || 256);
    $("model-info").textContent = `${model.id} · ${model.max_context_length} token context`;
  } catch (err) {
    $("model-info").textContent = `could not load model info (${err.message})`;
  }
  renderLegend();
}

function addMessage(role, text) {
  const box = document.createElement("div");
  box.className = `msg ${role}`;
  const label = document.createElement("span");
  label.className = "role";
  label.textContent = role === "user" ? "You" : "Assistant";
  const body = document.createElement("span");
  body.className = "body";
  if (text) body.textContent = text;
  box.append(label, body);
  $("conversation").append(box);
  box.scrollIntoView({ block: "end" });
  return box;
}

function appendPiece(body, entry) {
  if (!entry.text) return;
  if (entry.expert < 0) {  // text no expert produced (e.g. a notice from the output screen)
    body.append(document.createTextNode(entry.text));
    return;
  }
  const span = document.createElement("span");
  span.className = "tok";
  span.dataset.expert = String(entry.expert);
  span.textContent = entry.text;
  const colour = colourOf(entry.expert);
  span.style.background = tint(colour, 0.22);
  span.style.boxShadow = `inset 0 -2px 0 ${colour}`;
  const weights = (entry.weights || []).map((w, i) => `${state.domains[i] || i} ${(w * 100).toFixed(0)}%`);
  span.title = `${entry.domain}${weights.length ? " — " + weights.join(", ") : ""}`;
  body.append(span);
}

function markCrisis(box, crisis) {
  if (box.classList.contains("crisis")) return;
  box.classList.add("crisis");
  const badge = document.createElement("span");
  badge.className = "crisis-badge";
  badge.textContent = "Crisis support reply" + (crisis && crisis.level ? ` (risk: ${crisis.level})` : "");
  badge.title = "Sent by the safety layer instead of a generated reply";
  box.insertBefore(badge, box.querySelector(".body"));
}

function showShares(box, counts) {
  const total = counts.reduce((a, b) => a + b, 0);
  if (!total) return;
  const line = document.createElement("span");
  line.className = "shares";
  line.textContent = "experts: " + counts
    .map((c, i) => [c, i]).filter(([c]) => c > 0).sort((a, b) => b[0] - a[0])
    .map(([c, i]) => `${state.domains[i] || i} ${Math.round((100 * c) / total)}%`).join(" · ");
  box.append(line);
}

// Parse an SSE byte stream into JSON events; calls onEvent(obj) for every "data:" line.
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of block.split("\n")) {
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") return;
        onEvent(JSON.parse(data));
      }
    }
  }
}

async function send(text) {
  state.busy = true;
  $("send").disabled = true;
  state.history.push({ role: "user", content: text });
  addMessage("user", text);
  const box = addMessage("assistant", "");
  box.classList.add("streaming");
  const body = box.querySelector(".body");
  const counts = state.domains.map(() => 0);
  let reply = "";
  setStatus("thinking…");
  try {
    const res = await fetch("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ messages: state.history, stream: true, max_tokens: state.maxTokens }),
    });
    if (!res.ok) {
      let message = `HTTP ${res.status}`;
      try { message = (await res.json()).error.message; } catch (e) { /* not JSON */ }
      throw new Error(message);
    }
    await readEvents(res, (event) => {
      if (event.error) throw new Error(event.error.message);
      if (event.crisis) markCrisis(box, event.crisis);
      const delta = (event.choices && event.choices[0].delta) || {};
      if (!delta.content) return;
      reply += delta.content;
      const routing = event.routing || [];
      if (routing.length) {
        routing.forEach((entry) => {
          appendPiece(body, entry);
          if (entry.expert >= 0 && entry.expert < counts.length) counts[entry.expert] += 1;
        });
      } else {
        body.append(document.createTextNode(delta.content));
      }
      box.scrollIntoView({ block: "end" });
    });
    state.history.push({ role: "assistant", content: reply });
    showShares(box, counts);
    setStatus("");
  } catch (err) {
    state.history.pop();  // the message was not answered; let the user send it again
    box.classList.add("error");
    body.textContent = `Could not get a reply: ${err.message}`;
    setStatus("");
  } finally {
    box.classList.remove("streaming");
    box.dataset.done = "true";
    state.busy = false;
    $("send").disabled = false;
    $("message").focus();
  }
}

function init() {
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("message").value.trim();
    if (!text || state.busy) return;
    $("message").value = "";
    send(text);
  });
  $("message").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("reset").addEventListener("click", () => {
    state.history = [];
    document.querySelectorAll(".msg").forEach((m) => m.remove());
    setStatus("new conversation");
  });
  $("colour-toggle").addEventListener("change", (e) => {
    document.body.classList.toggle("plain", !e.target.checked);
  });
  loadModel();
}

init();
