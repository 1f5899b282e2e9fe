// The two kinds of dialog: a button's confirm dialog, and a modal the bot opened
// (views.open / views.update), with its inputs and its Submit.

import { el, renderBlocks, rawJson, confirmDialogParts } from "./blocks.js";
import { escapeHtml } from "./mrkdwn.js";

// Resolves true when the person confirms, false when they back out.
export function askToConfirm(layer, confirm, ctx) {
  const parts = confirmDialogParts(confirm, ctx);
  return new Promise((resolve) => {
    const done = (answer) => {
      layer.hidden = true;
      layer.replaceChildren();
      resolve(answer);
    };
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

// entry: {view, __v} or null; errors: {block_id: text, "": text for the whole form}.
export function drawModal(layer, entry, { ctx, errors, me, onClose, onSubmit }) {
  if (!entry) {
    layer.hidden = true;
    layer.replaceChildren();
    layer.dataset.signature = "";
    return;
  }
  const view = entry.view;
  const signature = `${view.id}@${entry.__v}@${me}@${JSON.stringify(errors || {})}`;
  if (layer.dataset.signature === signature) return;
  layer.dataset.signature = signature;
  const general = errors?.[""];
  layer.replaceChildren(el("div", { class: "dialog modal", role: "dialog", "aria-modal": "true", "data-view-id": view.id },
    el("div", { class: "modal-title" },
      el("h2", { html: escapeHtml(view.title?.text || "") }),
      el("button", { type: "button", class: "close-x", "aria-label": "Close", onclick: onClose }, "×")),
    view.type === "modal" ? renderBlocks(view.blocks, ctx) : rawJson(view, `a "${view.type}" view`),
    general ? el("div", { class: "b-error" }, general) : null,
    el("div", { class: "dialog-buttons" },
      el("button", { type: "button", class: "btn deny modal-close", onclick: onClose }, view.close?.text || "Close"),
      view.submit
        ? el("button", { type: "button", class: "btn primary modal-submit", onclick: () => onSubmit(view.id) }, view.submit.text)
        : null)));
  layer.hidden = false;
}
