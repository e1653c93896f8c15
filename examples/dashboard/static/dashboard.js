// The dashboard page: plain JavaScript and a <canvas> chart over the official socket.io
// browser client (global `io`). No chart library, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const MAX_SAMPLES = 60;
const samples = [];
const canvas = $("chart");
const ctx = canvas.getContext("2d");

function line(values, max, color) {
  const { width, height } = canvas;
  const step = width / (MAX_SAMPLES - 1);
  const offset = MAX_SAMPLES - values.length; // newest sample on the right edge
  ctx.strokeStyle = color;
  ctx.lineWidth = 2;
  ctx.beginPath();
  values.forEach((value, i) => {
    const x = (offset + i) * step;
    const y = height - 10 - (Math.min(value, max) / max) * (height - 20);
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
  ctx.stroke();
}

function draw() {
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  ctx.strokeStyle = "#eef0f2";
  ctx.lineWidth = 1;
  for (let i = 1; i < 4; i++) {
    const y = (height / 4) * i;
    ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(width, y); ctx.stroke();
  }
  const lags = samples.map((s) => s.loop_lag_ms);
  line(samples.map((s) => s.cpu), 100, "#3e63dd");
  line(lags, Math.max(10, ...lags), "#e5484d");
  canvas.dataset.samples = String(samples.length);
}

function add(sample) {
  samples.push(sample);
  if (samples.length > MAX_SAMPLES) samples.shift();
  $("cpu").textContent = sample.cpu.toFixed(1) + " %";
  $("rss").textContent = sample.rss_mb.toFixed(1) + " MB";
  $("lag").textContent = sample.loop_lag_ms.toFixed(1) + " ms";
  $("clients").textContent = String(sample.clients);
}

function addJob(job) {
  const empty = $("jobs").querySelector(".empty");
  if (empty) empty.remove();
  const li = document.createElement("li");
  li.className = "job";
  li.textContent = `#${job.id} ${job.name} · ${job.duration_ms} ms`;
  $("jobs").prepend(li);
  while ($("jobs").children.length > 10) $("jobs").lastChild.remove();
}

const socket = io("/dashboard");
socket.on("connect", () => { $("status").dataset.state = "online"; $("status").textContent = "online"; });
socket.on("disconnect", () => { $("status").dataset.state = "offline"; $("status").textContent = "offline"; });
socket.on("history", (history) => { history.forEach(add); draw(); });
socket.on("metrics", (sample) => { add(sample); draw(); });
socket.on("job", addJob);
draw();
