// A channel's messages as one person sees them: posts in order, their ephemerals among
// them, files as snippets; a message with replies says how many, and its thread opens in
// a pane beside the channel, as in Slack (drawThread). Nodes are kept and reused while a
// message is unchanged, so a box being ticked or a menu being opened is not redrawn under
// the pointer.

import { el, renderBlocks } from "./blocks.js";
import { getJson } from "./http.js";
import { mrkdwn } from "./mrkdwn.js";

// Split a channel's items into top-level messages and replies by their parent's ts.
export function threads(items) {
  const replies = new Map();
  const top = [];
  for (const item of items) {
    const parent = item.thread_ts && item.thread_ts !== item.ts ? item.thread_ts : null;
    if (parent) {
      if (!replies.has(parent)) replies.set(parent, []);
      replies.get(parent).push(item);
    } else top.push(item);
  }
  return { top, replies };
}

// view: { me, names, openThread: ts | null, nodes: Map, contextFor(key, source),
//         showThread(ts) }
export function drawMessages(box, items, view) {
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const { top, replies } = threads(items);
  const nodes = top.map((item) => messageNode(item, replies.get(item.ts) || [], view));
  reconcile(box, nodes.length ? nodes : [el("div", { class: "empty" }, "No messages yet.")]);
  if (atBottom) box.scrollTop = box.scrollHeight;
}

// The thread pane: the parent message, then its replies, oldest first.
export function drawThread(box, parent, replies, view) {
  reconcile(box, [
    drawMessage(parent, view),
    el("div", { class: "thread-count" }, `${replies.length} ${replies.length === 1 ? "reply" : "replies"}`),
    ...replies.map((reply) => drawMessage(reply, view)),
  ]);
}

export function itemKey(item) {
  return item.type === "ephemeral" ? `ephemeral:${item.ts}` : `message:${item.channel}:${item.ts}`;
}

function reconcile(container, nodes) {
  nodes.forEach((node, i) => {
    if (container.children[i] !== node) container.insertBefore(node, container.children[i] || null);
  });
  while (container.children.length > nodes.length) container.lastElementChild.remove();
}

function messageNode(item, replies, view) {
  const key = itemKey(item);
  const open = view.openThread === item.ts;
  const signature = [item.__v, view.me, open, ...replies.map((r) => `${itemKey(r)}@${r.__v}`)].join("|");
  const cached = view.nodes.get(key);
  if (cached && cached.signature === signature) return cached.node;
  const node = drawMessage(item, view);
  node.classList.toggle("thread-open", open);
  if (replies.length) {
    const count = replies.length;
    node.querySelector(".message-body").append(
      el("button", { type: "button", class: "thread-toggle", onclick: () => view.showThread(item.ts) },
        `${count} ${count === 1 ? "reply" : "replies"}`));
  }
  view.nodes.set(key, { signature, node });
  return node;
}

function drawMessage(item, view) {
  const ephemeral = item.type === "ephemeral";
  const ctx = view.contextFor(itemKey(item), { channel: item.channel, ts: item.ts, ephemeral });
  const content = item.blocks?.length
    ? renderBlocks(item.blocks, ctx)
    : el("div", { class: "b-text", html: mrkdwn(item.text, view.names, view.me) });
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
  const path = `/sandbox/files/${encodeURIComponent(fileId)}`;
  const card = el("div", { class: "file", "data-file": fileId }, el("div", { class: "file-name" }, "📄 loading…"));
  getJson(path).then((file) => {
    const parts = [
      el("div", { class: "file-name" }, `📄 ${file.title || file.name}`,
        el("a", { class: "download", href: `${path}/download`, download: file.name }, `Download ${file.name}`)),
      el("pre", { class: "code-block snippet" }, file.preview),
    ];
    if (file.truncated) parts.push(el("div", { class: "file-more" }, `… ${file.size.toLocaleString()} bytes in all`));
    card.replaceChildren(...parts);
  }).catch(() => card.replaceChildren(el("div", { class: "file-name" }, `📄 ${fileId} (gone)`)));
  return card;
}
