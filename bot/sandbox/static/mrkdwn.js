// Slack's mrkdwn to safe HTML: *bold*, _italic_, ~strike~ (around code spans too, as
// Slack draws them), `code`, ```code blocks```, > quotes, <links|labels>, <@U…> mentions,
// <#C…> channels by name, line breaks, a few :emoji:. Everything is escaped first; only
// the tags made here reach the page.

const PERMALINK = /^https:\/\/local\.slack\.test\/archives\/([CDG][A-Z0-9]+)\/p(\d{7,})$/;
const SLACK_ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">" };
const HTML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const EMOJI = {
  white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", warning: "⚠️", hourglass: "⌛",
  hourglass_flowing_sand: "⏳", rocket: "🚀", lock: "🔒", tada: "🎉", eyes: "👀",
  rotating_light: "🚨", information_source: "ℹ️", no_entry: "⛔", floppy_disk: "💾",
  large_green_circle: "🟢", red_circle: "🔴", large_yellow_circle: "🟡", clock1: "🕐",
  arrow_right: "➡️", leftwards_arrow_with_hook: "↩️", ice_cube: "🧊", fire: "🔥",
};

export function decodeSlack(text) {
  return String(text).replace(/&(amp|lt|gt);/g, (m) => SLACK_ENTITIES[m]);
}

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

export function emoji(html) {
  return html.replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m);
}

// Plain text as Slack shows a plain_text object: escaped, emoji shortcodes drawn.
export function plainText(text, withEmoji = true) {
  const html = escapeHtml(decodeSlack(text));
  return withEmoji ? emoji(html) : html;
}

// names: {U…: "alice", C…: "migrate-ops"}, me: the viewer's user id (their mentions are
// highlighted).
export function mrkdwn(text, names = {}, me = null) {
  const parts = String(text ?? "").split("```");
  if (parts.length % 2 === 0) {
    // an unclosed fence is shown as it was typed
    parts.splice(parts.length - 2, 2, parts[parts.length - 2] + "```" + parts[parts.length - 1]);
  }
  return parts
    .map((part, i) =>
      i % 2
        ? `<pre class="code-block">${escapeHtml(decodeSlack(part.replace(/^\n/, "").replace(/\n$/, "")))}</pre>`
        : inline(part, names, me),
    )
    .join("");
}

// Code spans and <…> entities are held aside as placeholders while the styles are
// matched over the whole line, so `_run `x` first_` is italic around its code span.
function inline(text, names, me) {
  const tokens = [];
  const hold = (html) => {
    tokens.push(html);
    return `\u0000${tokens.length - 1}\u0000`;
  };
  const held = text
    .replace(/`([^`\n]+)`/g, (m, code) => hold(`<code>${escapeHtml(decodeSlack(code))}</code>`))
    .replace(/<([^<>\s][^<>]*)>/g, (m, inner) => hold(token(inner, names, me)));
  return styled(held, tokens);
}

function styled(held, tokens) {
  let html = emoji(escapeHtml(decodeSlack(held)));
  html = html
    .replace(/(^|[^\w*])\*([^*\s](?:[^*\n]*?[^*\s])?)\*(?![\w*])/g, "$1<b>$2</b>")
    // an underscore inside a word (embedded_postgres) neither opens nor closes italics
    .replace(/(^|[^\w_])_([^_\s](?:[^\n]*?[^_\s])??)_(?![\w_])/g, "$1<i>$2</i>")
    .replace(/(^|[^\w~])~([^~\s](?:[^~\n]*?[^~\s])?)~(?![\w~])/g, "$1<s>$2</s>");
  html = html
    .split("\n")
    .map((line) => (line.startsWith("&gt; ") ? `<span class="quote">${line.slice(5)}</span>` : line))
    .join("<br>");
  return html.replace(/\u0000(\d+)\u0000/g, (m, n) => tokens[Number(n)]);
}

function token(inner, names, me) {
  const [target, label] = splitLabel(inner);
  if (target.startsWith("@")) {
    const id = target.slice(1);
    const who = label || names[id] || id;
    return `<span class="mention${id === me ? " mention-me" : ""}" data-user="${escapeHtml(id)}">@${plainText(who, false)}</span>`;
  }
  if (target.startsWith("#")) {
    const id = target.slice(1);
    return `<span class="channel-link" data-channel="${escapeHtml(id)}">#${plainText(label || names[id] || id, false)}</span>`;
  }
  if (target.startsWith("!")) {
    const special = target.slice(1);
    if (["here", "channel", "everyone"].includes(special)) return `<span class="mention">@${special}</span>`;
    return `<span class="mention">${plainText(label || special, false)}</span>`;
  }
  const permalink = PERMALINK.exec(decodeSlack(target));
  if (permalink) {
    // a link to a message of this workspace (chat.getPermalink): the page opens it itself
    const [, channel, digits] = permalink;
    const ts = `${digits.slice(0, -6)}.${digits.slice(-6)}`;
    return `<a href="#" class="permalink" data-channel="${escapeHtml(channel)}" data-ts="${ts}">${plainText(label || target, false)}</a>`;
  }
  if (/^(https?:|mailto:)/i.test(target)) {
    const href = escapeHtml(decodeSlack(target));
    return `<a href="${href}" target="_blank" rel="noopener noreferrer">${plainText(label || target, false)}</a>`;
  }
  return escapeHtml(`<${decodeSlack(inner)}>`);
}

function splitLabel(inner) {
  const bar = inner.indexOf("|");
  return bar < 0 ? [inner, ""] : [inner.slice(0, bar), inner.slice(bar + 1)];
}
