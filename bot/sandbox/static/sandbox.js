// The sandbox page: follows the local Slack workspace through its long poll and draws
// what each person would see; sends what they do to the sandbox, which signs it as
// Slack would and posts it to the bot. No build step: plain modules.

import { el, renderBlocks, rawJson, confirmDialogParts } from "./blocks.js";
import { mrkdwn, escapeHtml } from "./mrkdwn.js";

const POLL_TIMEOUT_S = 25;

const app = {
  setup: null,
  me: null,
  channel: null,
  seq: 0,
  messages: new Map(), // channel -> Map(ts -> message)
  ephemerals: [], // {…, __v}
  views: new Map(), // id -> {view, user, __v}
  modals: new Map(), // user -> [view ids], the open stack
  modalErrors: new Map(), // view id -> {block_id: text}
  elementState: new Map(), // container key -> Map("pos|action" -> value)
  expanded: new Set(), // thread parents shown open
  unread: new Map(), // channel -> count
  nodes: new Map(), // message key -> {signature, node}
  version: 0,
  logOpen: false,
  logSeq: 0,
};

const $ = (id) => document.getElementById(id);

// --- start ------------------------------------------------------------------------------

async function start() {
  app.setup = await getJson("/sandbox/setup");
  app.me = sessionStorage.getItem("sandbox-person") || app.setup.people[0].id;
  if (!app.setup.people.some((p) => p.id === app.me)) app.me = app.setup.people[0].id;
  app.channel = app.setup.ops_channel.id;
  drawPeople();
  $("composer").addEventListener("submit", onSubmitCommand);
  $("log-toggle").addEventListener("click", toggleLog);
  document.addEventListener("keydown", (e) => e.key === "Escape" && closeTopModal());
  applyChanges(await getJson(`/_local/changes?after=0&timeout=0`), { replay: true });
  render();
  followReadiness();
  poll();
}

async function followReadiness() {
  while (!app.setup.ready) {
    showNotice("Preparing the demo database… the bot answers as soon as it is ready.");
    await sleep(1000);
    app.setup = await getJson("/sandbox/setup").catch(() => app.setup);
  }
  const reset = app.setup.reset;
  if (reset) {
    const rows = Object.entries(reset.rows).map(([t, n]) => `${n.toLocaleString()} ${t}`).join(", ");
    $("hint").innerHTML =
      `The demo database is at its first revision with ${escapeHtml(rows)}; ` +
      `${reset.pending} revisions are pending.<br><br>Try <code>/migrate upgrade demo</code> as ` +
      `${escapeHtml(person(app.setup.people[0].id).name)}, then switch to ` +
      `${escapeHtml(person(app.setup.people[1].id).name)} to approve.`;
  }
  hideNotice();
}

async function poll() {
  for (;;) {
    try {
      const changes = await getJson(`/_local/changes?after=${app.seq}&timeout=${POLL_TIMEOUT_S}`);
      applyChanges(changes, { replay: false });
      if (changes.length) render();
      hideNotice("connection");
    } catch (error) {
      showNotice("Lost the sandbox: is `migrate-bot serve` still running? Retrying…", "connection");
      await sleep(1500);
      await reloadIfRestarted();
    }
  }
}

async function reloadIfRestarted() {
  try {
    const setup = await getJson("/sandbox/setup");
    if (setup.run_id !== app.setup.run_id) location.reload();
  } catch (error) {
    // still down
  }
}

// --- the workspace's changes -----------------------------------------------------------

function applyChanges(changes, { replay }) {
  for (const change of changes) {
    app.seq = Math.max(app.seq, change.seq);
    const data = change.data;
    switch (change.kind) {
      case "message_posted":
      case "message_updated":
        storeMessage(data, change.kind === "message_posted" && !replay);
        if (change.kind === "message_updated") forgetState(messageKey(data));
        break;
      case "message_deleted":
        app.messages.get(data.channel)?.delete(data.ts);
        break;
      case "ephemeral_posted":
        app.ephemerals.push({ ...data, __v: ++app.version });
        if (!replay && data.user === app.me && data.channel !== app.channel) bumpUnread(data.channel);
        break;
      case "ephemeral_updated":
        replaceEphemeral(data);
        break;
      case "ephemeral_deleted":
        app.ephemerals = app.ephemerals.filter((e) => !(e.user === data.user && e.ts === data.ts));
        break;
      case "view_opened":
        app.views.set(data.view.id, { ...data, __v: ++app.version });
        if (!replay) openModal(data.view.id, data.user);
        break;
      case "view_updated":
        app.views.set(data.view.id, { ...data, __v: ++app.version });
        forgetState(`view:${data.view.id}`);
        break;
      default:
        break; // a kind this page does not show
    }
  }
}

function storeMessage(message, fresh) {
  if (!app.messages.has(message.channel)) app.messages.set(message.channel, new Map());
  app.messages.get(message.channel).set(message.ts, { ...message, __v: ++app.version });
  if (fresh && message.channel !== app.channel && visibleChannel(message.channel)) bumpUnread(message.channel);
}

function replaceEphemeral(data) {
  const at = app.ephemerals.findIndex((e) => e.user === data.user && e.ts === data.ts);
  if (at >= 0) app.ephemerals[at] = { ...data, __v: ++app.version };
  forgetState(`ephemeral:${data.ts}`);
}

function bumpUnread(channel) {
  app.unread.set(channel, (app.unread.get(channel) || 0) + 1);
}

// --- who is looking ------------------------------------------------------------------

function person(id) {
  return app.setup.people.find((p) => p.id === id);
}

function myDm() {
  return person(app.me).dm;
}

function visibleChannel(channel) {
  return !channel.startsWith("D") || channel === myDm();
}

function drawPeople() {
  const box = $("people");
  box.replaceChildren(
    el("span", { class: "switch-label" }, "You are"),
    ...app.setup.people.map((p) =>
      el("button", {
        type: "button",
        role: "radio",
        class: "person" + (p.id === app.me ? " active" : ""),
        "aria-checked": p.id === app.me ? "true" : "false",
        "data-user": p.id,
        onclick: () => switchTo(p.id),
      }, el("span", { class: "avatar small" }, p.name.slice(0, 1).toUpperCase()), ` ${p.name} `,
      el("span", { class: "role" }, p.role))));
}

function switchTo(id) {
  if (id === app.me) return;
  if (app.channel === myDm()) app.channel = person(id).dm;
  app.me = id;
  sessionStorage.setItem("sandbox-person", id);
  app.nodes.clear();
  drawPeople();
  render();
  status(`You are now ${person(id).name} (${person(id).role}).`);
}

// --- drawing ---------------------------------------------------------------------------

function render() {
  drawChannels();
  drawMessages();
  drawModal();
}

function channelName(id) {
  if (id === app.setup.ops_channel.id) return app.setup.ops_channel.name;
  return id.toLowerCase();
}

function drawChannels() {
  const channels = new Set([app.setup.ops_channel.id]);
  for (const [id] of app.messages) if (id[0] === "C" || id[0] === "G") channels.add(id);
  for (const e of app.ephemerals) if (e.user === app.me && e.channel[0] !== "D") channels.add(e.channel);
  $("channels").replaceChildren(...[...channels].map((id) => navItem(id, `# ${channelName(id)}`)));
  $("dms").replaceChildren(navItem(myDm(), "● migrate-bot"));
  const title = app.channel.startsWith("D") ? "migrate-bot (direct messages)" : `# ${channelName(app.channel)}`;
  $("channel-header").textContent = title;
  $("message-box").placeholder = app.channel.startsWith("D")
    ? "Message migrate-bot: type /migrate help"
    : `Message #${channelName(app.channel)}: type /migrate help`;
}

function navItem(id, label) {
  const unread = app.unread.get(id) || 0;
  return el("li", {},
    el("button", {
      type: "button",
      class: "nav-item" + (id === app.channel ? " active" : "") + (unread ? " unread" : ""),
      "data-channel": id,
      onclick: () => { app.channel = id; app.unread.delete(id); render(); },
    }, label, unread ? el("span", { class: "badge" }, String(unread)) : null));
}

function drawMessages() {
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const replies = new Map();
  const top = [];
  for (const item of itemsIn(app.channel)) {
    const parent = item.thread_ts && item.thread_ts !== item.ts ? item.thread_ts : null;
    if (parent) {
      if (!replies.has(parent)) replies.set(parent, []);
      replies.get(parent).push(item);
    } else top.push(item);
  }
  const nodes = top.map((item) => messageNode(item, replies.get(item.ts) || []));
  reconcile(box, nodes.length ? nodes : [el("div", { class: "empty" }, "No messages yet.")]);
  if (atBottom) box.scrollTop = box.scrollHeight;
}

function itemsIn(channel) {
  const posted = [...(app.messages.get(channel)?.values() || [])];
  const mine = app.ephemerals.filter((e) => e.channel === channel && e.user === app.me);
  return [...posted, ...mine].sort((a, b) => Number(a.ts) - Number(b.ts));
}

function reconcile(container, nodes) {
  nodes.forEach((node, i) => {
    if (container.children[i] !== node) container.insertBefore(node, container.children[i] || null);
  });
  while (container.children.length > nodes.length) container.lastElementChild.remove();
}

function itemKey(item) {
  return item.type === "ephemeral" ? `ephemeral:${item.ts}` : `message:${item.channel}:${item.ts}`;
}

function messageNode(item, replies) {
  const key = itemKey(item);
  const open = app.expanded.has(key);
  const signature = [item.__v, app.me, open, ...replies.map((r) => `${itemKey(r)}@${r.__v}`)].join("|");
  const cached = app.nodes.get(key);
  if (cached && cached.signature === signature) return cached.node;
  const node = drawMessage(item);
  if (replies.length) {
    const count = replies.length;
    node.querySelector(".message-body").append(
      el("button", {
        type: "button",
        class: "thread-toggle",
        onclick: () => { open ? app.expanded.delete(key) : app.expanded.add(key); render(); },
      }, open ? "Hide replies" : `${count} ${count === 1 ? "reply" : "replies"}`),
      open ? el("div", { class: "replies" }, replies.map((r) => drawMessage(r))) : null);
  }
  app.nodes.set(key, { signature, node });
  return node;
}

function drawMessage(item) {
  const ephemeral = item.type === "ephemeral";
  const key = itemKey(item);
  const ctx = blockContext(key, ephemeral
    ? { channel: item.channel, ts: item.ts, ephemeral: true }
    : { channel: item.channel, ts: item.ts, ephemeral: false });
  const content = item.blocks?.length
    ? renderBlocks(item.blocks, ctx)
    : el("div", { class: "b-text", html: mrkdwn(item.text, app.setup.users, app.me) });
  return el("article", {
    class: "message" + (ephemeral ? " ephemeral" : ""),
    "data-ts": item.ts,
    "data-channel": item.channel,
    "data-kind": ephemeral ? "ephemeral" : "message",
  },
  el("div", { class: "avatar" }, "M"),
  el("div", { class: "message-body" },
    el("div", { class: "meta" },
      el("strong", {}, "migrate-bot"), el("span", { class: "app-tag" }, "APP"),
      el("time", { datetime: new Date(Number(item.ts) * 1000).toISOString() }, clock(item.ts)),
      item.edited ? el("span", { class: "edited" }, "(edited)") : null),
    ephemeral ? el("div", { class: "only-you" }, "👁 Only visible to you") : null,
    content,
    (item.files || []).map(fileCard)));
}

function clock(ts) {
  return new Date(Number(ts) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function fileCard(fileId) {
  const card = el("div", { class: "file", "data-file": fileId }, el("div", { class: "file-name" }, "📄 loading…"));
  getJson(`/sandbox/files/${encodeURIComponent(fileId)}`).then((file) => {
    card.replaceChildren(
      el("div", { class: "file-name" }, `📄 ${file.title || file.name}`,
        el("a", { class: "download", href: `/sandbox/files/${encodeURIComponent(fileId)}/download`, download: file.name }, `Download ${file.name}`)),
      el("pre", { class: "code-block snippet" }, file.preview),
      file.truncated ? el("div", { class: "file-more" }, `… ${file.size.toLocaleString()} bytes in all`) : null);
  }).catch(() => card.replaceChildren(el("div", { class: "file-name" }, `📄 ${fileId} (gone)`)));
  return card;
}

// --- interaction -------------------------------------------------------------------------

function blockContext(containerKey, source, errors) {
  return {
    names: app.setup.users,
    me: app.me,
    errors,
    state: {
      get: (pos, actionId) => stateOf(containerKey).get(`${pos}|${actionId}`),
      set: (pos, actionId, value) => stateOf(containerKey).set(`${pos}|${actionId}`, value),
    },
    act: (pos, element, value) => sendAction(containerKey, source, pos, element, value),
    confirm: askToConfirm,
  };
}

function stateOf(key) {
  if (!app.elementState.has(key)) app.elementState.set(key, new Map());
  return app.elementState.get(key);
}

function forgetState(key) {
  app.elementState.delete(key);
}

function messageKey(message) {
  return `message:${message.channel}:${message.ts}`;
}

function rawState(containerKey) {
  const state = {};
  for (const [key, value] of stateOf(containerKey)) {
    const [pos, actionId] = [key.slice(0, key.indexOf("|")), key.slice(key.indexOf("|") + 1)];
    (state[pos] ||= {})[actionId] = value;
  }
  return state;
}

async function sendAction(containerKey, source, pos, element, value) {
  const who = person(app.me);
  const body = { user: app.me, source, position: pos, action_id: element.action_id, value, state: rawState(containerKey) };
  const answer = await postJson("/sandbox/action", body);
  const label = element.text?.text || element.action_id;
  report(answer, `${who.name} used “${label}”`);
}

async function onSubmitCommand(event) {
  event.preventDefault();
  const box = $("message-box");
  const text = box.value.trim();
  if (!text) return;
  if (!text.startsWith("/migrate")) {
    status("This workspace only has one app: type a /migrate command (try /migrate help).", true);
    return;
  }
  box.value = "";
  const answer = await postJson("/sandbox/command", { user: app.me, channel: app.channel, text });
  report(answer, `${person(app.me).name} sent ${text}`);
}

function report(answer, what) {
  if (answer.error) status(`${what}: ${answer.error}`, true);
  else if (answer.status !== 200) status(`${what}: the bot answered HTTP ${answer.status}`, true);
  else status(`${what}: the bot acknowledged it.`);
  if (app.logOpen) refreshLog();
}

function status(text, bad = false) {
  const line = $("status-line");
  line.textContent = text;
  line.classList.toggle("bad", bad);
}

function askToConfirm(confirm) {
  const parts = confirmDialogParts(confirm, { names: app.setup.users, me: app.me });
  const layer = $("confirm-layer");
  return new Promise((resolve) => {
    const done = (answer) => { layer.hidden = true; layer.replaceChildren(); resolve(answer); };
    layer.replaceChildren(el("div", { class: "dialog confirm-dialog", role: "dialog", "aria-modal": "true" },
      el("h2", { html: parts.title }),
      el("div", { class: "dialog-body", html: parts.text }),
      el("div", { class: "dialog-buttons" },
        el("button", { type: "button", class: "btn deny", html: parts.no, onclick: () => done(false) }),
        el("button", { type: "button", class: `btn ${parts.style} confirm`, html: parts.yes, onclick: () => done(true) }))));
    layer.hidden = false;
    layer.querySelector(".confirm").focus();
  });
}

// --- modals ----------------------------------------------------------------------------

function openModal(viewId, user) {
  const owner = user || app.me;
  if (!app.modals.has(owner)) app.modals.set(owner, []);
  app.modals.get(owner).push(viewId);
}

function closeTopModal() {
  const stack = app.modals.get(app.me);
  if (stack?.length) {
    stack.pop();
    drawModal();
  }
}

function drawModal() {
  const layer = $("modal-layer");
  const stack = app.modals.get(app.me) || [];
  const entry = stack.length ? app.views.get(stack[stack.length - 1]) : null;
  if (!entry) {
    layer.hidden = true;
    layer.replaceChildren();
    layer.dataset.signature = "";
    return;
  }
  const view = entry.view;
  const signature = `${view.id}@${entry.__v}@${app.me}@${JSON.stringify(app.modalErrors.get(view.id) || {})}`;
  if (layer.dataset.signature === signature) return;
  layer.dataset.signature = signature;
  const key = `view:${view.id}`;
  const ctx = blockContext(key, { view_id: view.id }, app.modalErrors.get(view.id));
  const general = app.modalErrors.get(view.id)?.[""];
  layer.replaceChildren(el("div", { class: "dialog modal", role: "dialog", "aria-modal": "true", "data-view-id": view.id },
    el("div", { class: "modal-title" },
      el("h2", { html: escapeHtml(view.title?.text || "") }),
      el("button", { type: "button", class: "close-x", "aria-label": "Close", onclick: closeTopModal }, "×")),
    view.type === "modal" ? renderBlocks(view.blocks, ctx) : rawJson(view, `a "${view.type}" view`),
    general ? el("div", { class: "b-error" }, general) : null,
    el("div", { class: "dialog-buttons" },
      el("button", { type: "button", class: "btn deny modal-close", onclick: closeTopModal }, view.close?.text || "Close"),
      view.submit ? el("button", { type: "button", class: "btn primary modal-submit", onclick: () => submitModal(view.id) }, view.submit.text) : null)));
  layer.hidden = false;
}

async function submitModal(viewId) {
  const answer = await postJson("/sandbox/submit", { user: app.me, view_id: viewId, state: rawState(`view:${viewId}`) });
  report(answer, `${person(app.me).name} submitted the form`);
  app.modalErrors.set(viewId, answer.errors || {});
  if (answer.close) {
    app.modals.set(app.me, (app.modals.get(app.me) || []).filter((id) => id !== viewId));
  }
  drawModal();
}

// --- the request log --------------------------------------------------------------------

function toggleLog() {
  app.logOpen = !app.logOpen;
  $("request-log").hidden = !app.logOpen;
  $("log-toggle").classList.toggle("active", app.logOpen);
  if (app.logOpen) refreshLog();
}

async function refreshLog() {
  const entries = await getJson(`/sandbox/requests?after=${app.logSeq}`);
  for (const sent of entries) {
    app.logSeq = Math.max(app.logSeq, sent.seq);
    $("log-entries").prepend(el("li", { class: sent.status === 200 ? "" : "bad" },
      el("details", {},
        el("summary", {}, `${sent.kind} → HTTP ${sent.status} in ${sent.ms} ms`),
        el("pre", {}, JSON.stringify(sent.body, null, 2)),
        sent.answer ? el("pre", { class: "answer" }, `answer: ${sent.answer}`) : null)));
  }
}

// --- plumbing ----------------------------------------------------------------------------

function showNotice(text, reason = "ready") {
  const notice = $("notice");
  notice.textContent = text;
  notice.dataset.reason = reason;
  notice.hidden = false;
}

function hideNotice(reason) {
  const notice = $("notice");
  if (!reason || notice.dataset.reason === reason) notice.hidden = true;
}

async function getJson(url) {
  const answer = await fetch(url, { cache: "no-store" });
  if (!answer.ok) throw new Error(`${url}: HTTP ${answer.status}`);
  return answer.json();
}

async function postJson(url, body) {
  try {
    const answer = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    return await answer.json();
  } catch (error) {
    return { error: `the sandbox did not answer (${error.message})` };
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

start();
