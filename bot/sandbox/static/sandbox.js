// The sandbox page: follows the local Slack workspace through its long poll and draws
// what each person would see; sends what they do to the sandbox, which signs it as
// Slack would and posts it to the bot. No build step: plain modules.

import { el, renderBlocks } from "./blocks.js";
import { askToConfirm, drawModal } from "./dialogs.js";
import { getJson, postJson, sleep } from "./http.js";
import { drawMessages, drawThread, threads } from "./messages.js";
import { escapeHtml } from "./mrkdwn.js";
import { RequestLog } from "./request_log.js";

const POLL_TIMEOUT_S = 25;

const app = {
  setup: null,
  me: null,
  channel: null,
  seq: 0,
  messages: new Map(), // channel -> Map(ts -> message)
  ephemerals: [], // as posted, each with a version __v
  views: new Map(), // id -> {view, user, __v}
  modals: new Map(), // user -> the stack of view ids open for them
  modalErrors: new Map(), // view id -> {block_id: text}
  elementState: new Map(), // container key -> Map("pos|action_id" -> value)
  thread: null, // {channel, ts} of the thread open in the side pane
  threadToNewest: false, // scroll the thread pane to its newest reply at the next drawing
  seenUpTo: {}, // "viewer|channel" -> ts of the newest message they have looked at
  home: false, // the App Home tab is shown instead of a channel
  homes: new Map(), // user -> {view, __v}: each person's published home tab
  unread: new Map(), // "viewer|channel" -> count of messages they have not seen
  nodes: new Map(), // message key -> {signature, node}
  version: 0,
  log: null,
};

const $ = (id) => document.getElementById(id);

// --- start ------------------------------------------------------------------------------

async function start() {
  app.setup = await getJson("/sandbox/setup");
  const saved = sessionStorage.getItem("sandbox-person");
  app.me = app.setup.people.some((p) => p.id === saved) ? saved : app.setup.people[0].id;
  app.channel = app.setup.ops_channel.id;
  app.seenUpTo = JSON.parse(localStorage.getItem(seenKey()) || "{}");
  app.log = new RequestLog($("request-log"), $("log-entries"), $("log-toggle"));
  drawPeople();
  $("composer").addEventListener("submit", onSubmitCommand);
  $("home-nav").addEventListener("click", openHome);
  $("thread-close").addEventListener("click", () => showThread(null));
  document.addEventListener("click", onPermalink);
  document.addEventListener("keydown", (e) => e.key === "Escape" && closeTopModal());
  applyChanges(await getJson("/_local/changes?after=0&timeout=0"), { replay: true });
  render();
  document.body.dataset.loaded = "true";
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
  const [requester, approver] = app.setup.people;
  if (reset) {
    // what was true at start, said as such: a run changes it, /migrate status says what is now
    const rows = Object.entries(reset.rows).map(([t, n]) => `${n.toLocaleString()} ${t}`).join(", ");
    $("hint").innerHTML =
      `At start the demo database was reset to its first revision, with ${escapeHtml(rows)} ` +
      `and ${reset.pending} revisions pending; <code>/migrate status demo</code> says where it is now.` +
      `<br><br>Try <code>/migrate upgrade demo</code> as ` +
      `${escapeHtml(requester.name)}, then switch to ${escapeHtml(approver.name)} to read the evidence and approve.`;
  } else {
    const targets = Object.keys(app.setup.targets || {}).map((t) => `<code>${escapeHtml(t)}</code>`).join(", ");
    $("hint").innerHTML =
      `Your targets: ${targets}. Runs here are real: an approved upgrade migrates that database.` +
      `<br><br>Try <code>/migrate status</code> as ${escapeHtml(requester.name)}; ` +
      `${escapeHtml(approver.name)} approves for every target.`;
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
    // still down: the next poll says so
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
        if (change.kind === "message_updated") forgetState(`message:${data.channel}:${data.ts}`);
        break;
      case "message_deleted":
        app.messages.get(data.channel)?.delete(data.ts);
        break;
      case "ephemeral_posted":
        app.ephemerals.push({ ...data, __v: ++app.version });
        if (!replay && !(data.user === app.me && seen(data.channel))) bumpUnread(data.user, data.channel);
        break;
      case "ephemeral_updated":
        replaceEphemeral(data);
        break;
      case "ephemeral_deleted":
        app.ephemerals = app.ephemerals.filter((e) => !(e.user === data.user && e.ts === data.ts));
        break;
      case "home_published":
        app.homes.set(data.user, { ...data, __v: ++app.version });
        app.views.set(data.view.id, { ...data, __v: app.version });
        forgetState(`view:${data.view.id}`);
        break;
      case "view_opened":
      case "view_updated":
        app.views.set(data.view.id, { ...data, __v: ++app.version });
        if (change.kind === "view_updated") forgetState(`view:${data.view.id}`);
        else if (!replay) openModal(data.view.id, data.user);
        break;
      default:
        break; // a kind this page does not show
    }
  }
}

// A new top-level message is unread for each person who can see the channel and is not
// looking at it now (a direct message only for the person it is with); on a fresh page,
// those newer than what this browser saw them look at. A new reply in the channel shown
// opens its thread, at the newest reply.
function storeMessage(message, fresh) {
  if (!app.messages.has(message.channel)) app.messages.set(message.channel, new Map());
  const known = app.messages.get(message.channel).has(message.ts);
  app.messages.get(message.channel).set(message.ts, { ...message, __v: ++app.version });
  const reply = message.thread_ts && message.thread_ts !== message.ts;
  if (reply) {
    if (fresh && !app.home && message.channel === app.channel) {
      app.thread = { channel: message.channel, ts: message.thread_ts };
      app.threadToNewest = true;
    }
    return;
  }
  if (known || (!fresh && !replayedUnseen(message))) return;
  for (const p of app.setup.people) {
    const theirs = !message.channel.startsWith("D") || message.channel === p.dm;
    const unseen = fresh || Number(message.ts) > Number(app.seenUpTo[`${p.id}|${message.channel}`] || 0);
    if (theirs && unseen && !(p.id === app.me && seen(message.channel))) bumpUnread(p.id, message.channel);
  }
}

function replayedUnseen(message) {
  return app.setup.people.some((p) => Number(message.ts) > Number(app.seenUpTo[`${p.id}|${message.channel}`] || 0));
}

function seenKey() {
  return `sandbox-seen:${app.setup.run_id}`; // a restarted sandbox is a new workspace
}

// What the person looking has now seen of the channel shown, kept for the next page load.
function markSeen() {
  if (app.home) return;
  const newest = [...(app.messages.get(app.channel)?.keys() || [])].reduce((a, b) => (Number(b) > Number(a) ? b : a), "0");
  app.seenUpTo[`${app.me}|${app.channel}`] = newest;
  localStorage.setItem(seenKey(), JSON.stringify(app.seenUpTo));
}

function seen(channel) {
  return !app.home && channel === app.channel && document.visibilityState !== "hidden";
}

function replaceEphemeral(data) {
  const at = app.ephemerals.findIndex((e) => e.user === data.user && e.ts === data.ts);
  if (at >= 0) app.ephemerals[at] = { ...data, __v: ++app.version };
  forgetState(`ephemeral:${data.ts}`);
}

function bumpUnread(user, channel) {
  const key = `${user}|${channel}`;
  app.unread.set(key, (app.unread.get(key) || 0) + 1);
}

// --- who is looking ------------------------------------------------------------------

function person(id) {
  return app.setup.people.find((p) => p.id === id);
}

function myDm() {
  return person(app.me).dm;
}

function drawPeople() {
  $("people").replaceChildren(
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
  if (app.thread?.channel.startsWith("D")) app.thread = null;
  app.me = id;
  sessionStorage.setItem("sandbox-person", id);
  app.nodes.clear();
  drawPeople();
  if (app.home) requestHome();
  else app.unread.delete(`${app.me}|${app.channel}`);
  render();
  status(`You are now ${person(id).name} (${person(id).role}).`);
}

// --- drawing ---------------------------------------------------------------------------

function names() {
  return { ...app.setup.users, ...app.setup.channels };
}

function render() {
  if (document.visibilityState !== "hidden") markSeen();
  drawChannels();
  const view = {
    me: app.me,
    names: names(),
    openThread: app.thread && app.thread.channel === app.channel ? app.thread.ts : null,
    nodes: app.nodes,
    contextFor: blockContext,
    showThread,
  };
  $("composer").hidden = app.home;
  if (app.home) drawHome();
  else {
    $("messages").dataset.signature = "";
    drawMessages($("messages"), itemsIn(app.channel), view);
  }
  drawThreadPane(view);
  const stack = app.modals.get(app.me) || [];
  const top = stack.length ? stack[stack.length - 1] : null;
  drawModal($("modal-layer"), top ? app.views.get(top) : null, {
    ctx: top ? blockContext(`view:${top}`, { view_id: top }, app.modalErrors.get(top)) : null,
    errors: top ? app.modalErrors.get(top) : null,
    me: app.me,
    onClose: closeTopModal,
    onSubmit: submitModal,
  });
}

function itemsIn(channel) {
  const posted = [...(app.messages.get(channel)?.values() || [])];
  const mine = app.ephemerals.filter((e) => e.channel === channel && e.user === app.me);
  return [...posted, ...mine].sort((a, b) => Number(a.ts) - Number(b.ts));
}

function channelName(id) {
  return app.setup.channels[id] || id.toLowerCase();
}

// --- the App Home tab ------------------------------------------------------------------

async function openHome() {
  app.home = true;
  app.thread = null;
  render();
  await requestHome();
}

// What Slack does when someone opens the app's Home: an app_home_opened event to the bot,
// which publishes the tab (views.publish); the page draws it when it comes.
async function requestHome() {
  const answer = await postJson("/sandbox/home", { user: app.me });
  report(answer, `${person(app.me).name} opened the Home tab`);
}

function drawHome() {
  const entry = app.homes.get(app.me);
  const box = $("messages");
  if (!entry) {
    box.replaceChildren(el("div", { class: "empty" }, "Opening the Home tab…"));
    return;
  }
  const signature = `home:${entry.view.id}@${entry.__v}@${app.me}`;
  if (box.dataset.signature === signature) return;
  const ctx = blockContext(`view:${entry.view.id}`, { view_id: entry.view.id });
  box.replaceChildren(el("div", { class: "home", "data-view-id": entry.view.id }, renderBlocks(entry.view.blocks, ctx)));
  box.dataset.signature = signature;
}

// --- threads ------------------------------------------------------------------------------

function showThread(ts) {
  app.thread = ts ? { channel: app.channel, ts } : null;
  app.threadToNewest = Boolean(ts); // a thread opens at its newest reply, as in Slack
  render();
}

function drawThreadPane(view) {
  const pane = $("thread-pane");
  const open = app.thread;
  const parent = open && app.messages.get(open.channel)?.get(open.ts);
  pane.hidden = !parent;
  if (!parent) return;
  const { replies } = threads(itemsIn(open.channel));
  $("thread-channel").textContent = open.channel.startsWith("D") ? "with migrate-bot" : `# ${channelName(open.channel)}`;
  const box = $("thread-messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  drawThread(box, parent, replies.get(open.ts) || [], { ...view, openThread: null });
  if (app.threadToNewest || atBottom) box.scrollTop = box.scrollHeight;
  app.threadToNewest = false;
}

// A link to a message (chat.getPermalink) opens its channel and shows the message there.
function onPermalink(event) {
  const link = event.target.closest("a.permalink");
  if (!link) return;
  event.preventDefault();
  const channel = link.dataset.channel;
  if (channel.startsWith("D") && channel !== myDm()) return;
  app.home = false;
  app.channel = channel;
  app.unread.delete(`${app.me}|${channel}`);
  render();
  const node = $("messages").querySelector(`article[data-ts="${link.dataset.ts}"]`);
  if (node) {
    node.scrollIntoView({ block: "center" });
    node.classList.add("highlight");
    setTimeout(() => node.classList.remove("highlight"), 1500);
  }
}

function drawChannels() {
  const channels = new Set([app.setup.ops_channel.id]);
  for (const [id] of app.messages) if (id[0] === "C" || id[0] === "G") channels.add(id);
  for (const e of app.ephemerals) if (e.user === app.me && e.channel[0] !== "D") channels.add(e.channel);
  $("channels").replaceChildren(...[...channels].map((id) => navItem(id, `# ${channelName(id)}`)));
  $("dms").replaceChildren(navItem(myDm(), "● migrate-bot"));
  $("home-nav").classList.toggle("active", app.home);
  const direct = app.channel.startsWith("D");
  const title = direct ? "migrate-bot (direct messages)" : `# ${channelName(app.channel)}`;
  $("channel-header").textContent = app.home ? "migrate-bot · Home" : title;
  $("message-box").placeholder = direct
    ? "Message migrate-bot: type /migrate help"
    : `Message #${channelName(app.channel)}: type /migrate help`;
}

function navItem(id, label) {
  const unread = app.unread.get(`${app.me}|${id}`) || 0;
  const open = () => {
    app.home = false;
    app.channel = id;
    app.unread.delete(`${app.me}|${id}`);
    render();
  };
  return el("li", {},
    el("button", {
      type: "button",
      class: "nav-item" + (id === app.channel && !app.home ? " active" : "") + (unread ? " unread" : ""),
      "data-channel": id,
      onclick: open,
    }, label, unread ? el("span", { class: "badge" }, String(unread)) : null));
}

// --- what a person does ---------------------------------------------------------------

// What a rendered block needs: names, who is looking, where its inputs' values live,
// how to send an action on it (source: {channel, ts, ephemeral} or {view_id}).
function blockContext(containerKey, source, errors) {
  return {
    names: names(),
    me: app.me,
    errors,
    state: {
      get: (pos, actionId) => stateOf(containerKey).get(`${pos}|${actionId}`),
      set: (pos, actionId, value) => stateOf(containerKey).set(`${pos}|${actionId}`, value),
    },
    act: (pos, element, value) => sendAction(containerKey, source, pos, element, value),
    confirm: (confirm) => askToConfirm($("confirm-layer"), confirm, { names: names(), me: app.me }),
  };
}

function stateOf(key) {
  if (!app.elementState.has(key)) app.elementState.set(key, new Map());
  return app.elementState.get(key);
}

function forgetState(key) {
  app.elementState.delete(key);
}

// {position: {action_id: value}}, as /sandbox/action and /sandbox/submit take it.
function rawState(containerKey) {
  const state = {};
  for (const [key, value] of stateOf(containerKey)) {
    const bar = key.indexOf("|");
    (state[key.slice(0, bar)] ||= {})[key.slice(bar + 1)] = value;
  }
  return state;
}

async function sendAction(containerKey, source, pos, element, value) {
  const body = { user: app.me, source, position: pos, action_id: element.action_id, value, state: rawState(containerKey) };
  const answer = await postJson("/sandbox/action", body);
  report(answer, `${person(app.me).name} ${actionWords(element, value)}`);
}

// What a click did, in the words on the page (never an action id).
function actionWords(element, value) {
  if (element.text?.text) return `used “${element.text.text}”`;
  const chosen = new Set([value].flat());
  const options = element.options || [];
  const picked = options.filter((o) => chosen.has(o.value)).map((o) => `“${o.text?.text || o.value}”`);
  if (element.type === "checkboxes") return picked.length ? `ticked ${picked.join(", ")}` : "cleared the boxes";
  if (picked.length) return `chose ${picked.join(", ")}`;
  return `used “${element.placeholder?.text || element.type || "a control"}”`;
}

async function onSubmitCommand(event) {
  event.preventDefault();
  const box = $("message-box");
  const text = box.value.trim();
  if (!text) return;
  if (text.split(/\s/)[0] !== "/migrate") {
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
  app.log.refresh();
}

function status(text, bad = false) {
  const line = $("status-line");
  line.textContent = text;
  line.classList.toggle("bad", bad);
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
    render();
  }
}

async function submitModal(viewId) {
  const answer = await postJson("/sandbox/submit", { user: app.me, view_id: viewId, state: rawState(`view:${viewId}`) });
  report(answer, `${person(app.me).name} submitted the form`);
  app.modalErrors.set(viewId, answer.errors || (answer.error ? { "": answer.error } : {}));
  if (answer.close) {
    app.modals.set(app.me, (app.modals.get(app.me) || []).filter((id) => id !== viewId));
  }
  render();
}

// --- notices ---------------------------------------------------------------------------

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

start();
