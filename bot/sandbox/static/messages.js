// A channel's messages as one person sees them: posts in order, their ephemerals among
// them, replies folded under their parent, files as snippets. Nodes are kept and reused
// while a message is unchanged, so a box being ticked or a menu being opened is not
// redrawn under the pointer.

import { el, renderBlocks } from "./blocks.js";
import { getJson } from "./http.js";
import { mrkdwn } from "./mrkdwn.js";

// view: { me, names, expanded: Set, nodes: Map, contextFor(key, source), rerender() }
export function drawMessages(box, items, view) {
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const replies = new Map();
  const top = [];
  for (const item of items) {
    const parent = item.thread_ts && item.thread_ts !== item.ts ? item.thread_ts : null;
    if (parent) {
      if (!replies.has(parent)) replies.set(parent, []);
      replies.get(parent).push(item);
    } else top.push(item);
  }
  const nodes = top.map((item) => messageNode(item, replies.get(item.ts) || [], view));
  reconcile(box, nodes.length ? nodes : [el("div", { class: "empty" }, "No messages yet.")]);
  if (atBottom) box.scrollTop = box.scrollHeight;
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
  const open = view.expanded.has(key);
  const signature = [item.__v, view.me, open, ...replies.map((r) => `${itemKey(r)}@${r.__v}`)].join("|");
  const cached = view.nodes.get(key);
  if (cached && cached.signature === signature) return cached.node;
  const node = drawMessage(item, view);
  if (replies.length) {
    const count = replies.length;
    const toggle = () => {
      if (open) view.expanded.delete(key);
      else view.expanded.add(key);
      view.rerender();
    };
    const body = node.querySelector(".message-body");
    body.append(
      el("button", { type: "button", class: "thread-toggle", onclick: toggle },
        open ? "Hide replies" : `${count} ${count === 1 ? "reply" : "replies"}`));
    if (open) body.append(el("div", { class: "replies" }, replies.map((r) => drawMessage(r, view))));
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
