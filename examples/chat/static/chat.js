// The chat page: plain JavaScript over the official socket.io browser client (global `io`).
"use strict";

const $ = (id) => document.getElementById(id);
let socket = null;
let room = null;
let typingTimer = null;
const typists = new Set();

function item(text, className) {
  const li = document.createElement("li");
  if (className) li.className = className;
  li.textContent = text;
  return li;
}

function showMessage(message, extraClass) {
  const li = item("", "message" + (extraClass ? " " + extraClass : ""));
  const nick = document.createElement("span");
  nick.className = "nick";
  nick.textContent = message.nick;
  li.append(nick, document.createTextNode(message.text));
  $("messages").append(li);
  li.scrollIntoView({ block: "end" });
}

// The server's error payload: {status, message, cause}; `message` is a string or, for a
// validation failure, a list of {field, error}.
function showError(payload) {
  const message = payload && payload.message !== undefined ? payload.message : payload;
  const lines = Array.isArray(message)
    ? message.map((e) => (e.field ? e.field + ": " : "") + e.error)
    : [String(message)];
  for (const line of lines) $("errors").append(item(line, "error"));
}

function renderTyping() {
  const names = [...typists];
  $("typing").textContent = names.length === 0 ? ""
    : names.join(", ") + (names.length === 1 ? " is typing…" : " are typing…");
}

function setStatus(state) {
  $("status").dataset.state = state;
  $("status").textContent = state;
}

async function join(name) {
  $("messages").replaceChildren();
  typists.clear();
  renderTyping();
  const reply = await socket.emitWithAck("join", { room: name });
  if (reply && reply.status === "error") return; // shown by the "exception" listener
  room = reply.room;
  $("room-name").textContent = room;
  // the history goes above the notices that arrived while the ack was on its way
  const first = $("messages").firstChild;
  for (const message of reply.history) {
    showMessage(message, "history");
    $("messages").insertBefore($("messages").lastChild, first);
  }
  $("login").hidden = true;
  $("chat").hidden = false;
  $("text").focus();
}

function connect(event) {
  event.preventDefault();
  $("errors").replaceChildren();
  if (socket) socket.disconnect();
  socket = io("/chat", { auth: { nick: $("nick").value, token: $("token").value } });
  socket.on("connect", () => { setStatus("online"); join($("room").value); });
  socket.on("disconnect", () => setStatus("offline"));
  socket.on("connect_error", (err) => { setStatus("refused"); showError(err.message); });
  socket.on("exception", showError);
  socket.on("message", (message) => {
    typists.delete(message.nick);
    renderTyping();
    showMessage(message);
  });
  socket.on("notice", (notice) => $("messages").append(item(notice.text, "notice")));
  socket.on("typing", ({ nick, typing }) => {
    if (typing) typists.add(nick); else typists.delete(nick);
    renderTyping();
  });
}

function stopTyping() {
  clearTimeout(typingTimer);
  if (typingTimer !== null && room) socket.emit("typing", { room, typing: false });
  typingTimer = null;
}

$("login").addEventListener("submit", connect);
$("text").addEventListener("input", () => {
  if (typingTimer === null) socket.emit("typing", { room, typing: true });
  clearTimeout(typingTimer);
  typingTimer = setTimeout(stopTyping, 2000);
});
$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  $("errors").replaceChildren();
  stopTyping();
  // No client-side check on purpose: the server validates, and its errors are shown.
  socket.emit("say", { room, text: $("text").value });
  $("text").value = "";
});
$("leave").addEventListener("click", () => {
  socket.emit("leave", { room });
  room = null;
  $("chat").hidden = true;
  $("login").hidden = false;
});
