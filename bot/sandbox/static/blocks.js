// Block Kit to DOM, as Slack draws it: header, section (text, fields, accessory), context,
// divider, actions, input, image; elements: button (styles, confirm), checkboxes, radio
// buttons, selects, overflow, date and time pickers, text inputs. A block or element this
// file does not know is shown as its JSON, never dropped.
//
// ctx: { names, me, state: {get(pos, actionId), set(pos, actionId, value)},
//        act(pos, element, value), confirm(dialog) -> Promise<bool>, errors: {block_id: text} }

import { mrkdwn, plainText, escapeHtml } from "./mrkdwn.js";

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "html") node.innerHTML = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

export function textHtml(text, ctx) {
  if (!text) return "";
  if (typeof text === "string") return mrkdwn(text, ctx.names, ctx.me);
  if (text.type === "mrkdwn") return mrkdwn(text.text, ctx.names, ctx.me);
  return plainText(text.text ?? "", text.emoji !== false);
}

export function rawJson(value, what) {
  return el(
    "details",
    { class: "raw-json", open: true },
    el("summary", {}, `${what}: shown as JSON (the sandbox does not draw it)`),
    el("pre", {}, JSON.stringify(value, null, 2)),
  );
}

// --- blocks --------------------------------------------------------------------------

const BLOCKS = {
  header: (block, pos, ctx) => el("div", { class: "b-header", html: textHtml(block.text, ctx) }),
  divider: () => el("hr", { class: "b-divider" }),
  section: renderSection,
  context: (block, pos, ctx) =>
    el("div", { class: "b-context" }, (block.elements || []).map((e) => contextElement(e, ctx))),
  actions: (block, pos, ctx) =>
    el("div", { class: "b-actions" }, (block.elements || []).map((e) => renderElement(e, pos, ctx))),
  input: renderInput,
  image: (block, pos, ctx) =>
    el("figure", { class: "b-image" },
      block.title ? el("figcaption", { html: textHtml(block.title, ctx) }) : null,
      imageLink(block)),
};

export function renderBlocks(blocks, ctx) {
  return el("div", { class: "blocks" }, (blocks || []).map((block, pos) => renderBlock(block, pos, ctx)));
}

function renderBlock(block, pos, ctx) {
  const draw = block && BLOCKS[block.type];
  if (!draw) return rawJson(block, `a "${block?.type}" block`);
  try {
    const node = draw(block, pos, ctx);
    node.dataset.blockType = block.type;
    if (block.block_id) node.dataset.blockId = block.block_id;
    return node;
  } catch (error) {
    return rawJson(block, `a "${block.type}" block that could not be drawn (${error.message})`);
  }
}

function renderSection(block, pos, ctx) {
  const body = el("div", { class: "b-section-body" });
  if (block.text) body.append(el("div", { class: "b-text", html: textHtml(block.text, ctx) }));
  if (block.fields?.length) {
    body.append(el("div", { class: "b-fields" },
      block.fields.map((f) => el("div", { class: "b-field", html: textHtml(f, ctx) }))));
  }
  const section = el("div", { class: "b-section" }, body);
  if (block.accessory) section.append(el("div", { class: "b-accessory" }, renderElement(block.accessory, pos, ctx)));
  return section;
}

function renderInput(block, pos, ctx) {
  const error = ctx.errors?.[block.block_id];
  return el("div", { class: "b-input" + (error ? " has-error" : "") },
    el("label", { class: "b-label", html: textHtml(block.label, ctx) + (block.optional ? ' <span class="optional">(optional)</span>' : "") }),
    renderElement(block.element, pos, ctx, true),
    block.hint ? el("div", { class: "b-hint", html: textHtml(block.hint, ctx) }) : null,
    error ? el("div", { class: "b-error" }, error) : null);
}

function contextElement(element, ctx) {
  if (element.type === "image") return el("img", { class: "ctx-image", alt: element.alt_text || "", src: element.image_url });
  if (element.type === "mrkdwn" || element.type === "plain_text") return el("span", { html: textHtml(element, ctx) });
  return rawJson(element, `a "${element.type}" context element`);
}

function imageLink(element) {
  return el("a", { class: "image-link", href: element.image_url, target: "_blank", rel: "noopener noreferrer" },
    `🖼 ${element.alt_text || element.image_url}`);
}

// --- elements ------------------------------------------------------------------------

const ELEMENTS = {
  button: renderButton,
  checkboxes: renderCheckboxes,
  radio_buttons: renderRadios,
  static_select: renderSelect,
  multi_static_select: renderSelect,
  overflow: renderOverflow,
  datepicker: (e, pos, ctx, inForm) => renderPicker(e, pos, ctx, inForm, "date", "initial_date"),
  timepicker: (e, pos, ctx, inForm) => renderPicker(e, pos, ctx, inForm, "time", "initial_time"),
  plain_text_input: renderTextInput,
  number_input: renderTextInput,
  email_text_input: renderTextInput,
  url_text_input: renderTextInput,
  image: (e) => imageLink(e),
};

export function renderElement(element, pos, ctx, inForm = false) {
  const draw = element && ELEMENTS[element.type];
  if (!draw) return rawJson(element, `a "${element?.type}" element`);
  const node = draw(element, pos, ctx, inForm);
  node.dataset.actionId = element.action_id || "";
  node.dataset.elementType = element.type;
  if (element.confirm) node.dataset.confirm = "yes";
  return node;
}

// Send the action, after the element's confirm dialog if it has one.
async function fire(element, pos, ctx, value) {
  if (element.confirm && !(await ctx.confirm(element.confirm))) return false;
  ctx.act(pos, element, value);
  return true;
}

function renderButton(element, pos, ctx) {
  const style = element.style ? ` ${element.style}` : "";
  return el("button", {
    class: `btn${style}`,
    type: "button",
    title: element.value ? `value: ${element.value}` : null,
    html: plainText(element.text?.text ?? "", element.text?.emoji !== false),
    onclick: () => {
      fire(element, pos, ctx, null).then((sent) => {
        if (sent && element.url) window.open(element.url, "_blank", "noopener");
      });
    },
  });
}

function currentValue(element, pos, ctx, initial) {
  const held = ctx.state.get(pos, element.action_id);
  return held === undefined ? initial : held;
}

function optionValues(options) {
  return (options || []).map((o) => o.value);
}

function optionLabel(option, ctx) {
  return textHtml(option.text, ctx) +
    (option.description ? `<div class="option-description">${textHtml(option.description, ctx)}</div>` : "");
}

function renderCheckboxes(element, pos, ctx, inForm) {
  const chosen = new Set(currentValue(element, pos, ctx, optionValues(element.initial_options)));
  const box = el("div", { class: "checkboxes" });
  for (const option of element.options || []) {
    const input = el("input", { type: "checkbox", value: option.value, checked: chosen.has(option.value) });
    input.addEventListener("change", async () => {
      const values = [...box.querySelectorAll("input:checked")].map((i) => i.value);
      ctx.state.set(pos, element.action_id, values);
      if (!inForm && !(await fire(element, pos, ctx, values))) input.checked = !input.checked;
    });
    box.append(el("label", { class: "checkbox" }, input, el("span", { html: optionLabel(option, ctx) })));
  }
  return box;
}

function renderRadios(element, pos, ctx, inForm) {
  const chosen = currentValue(element, pos, ctx, element.initial_option?.value ?? null);
  const name = `radio-${pos}-${element.action_id}-${Math.random().toString(36).slice(2)}`;
  const box = el("div", { class: "radios" });
  for (const option of element.options || []) {
    const input = el("input", { type: "radio", name, value: option.value, checked: option.value === chosen });
    input.addEventListener("change", () => {
      ctx.state.set(pos, element.action_id, option.value);
      if (!inForm) fire(element, pos, ctx, option.value);
    });
    box.append(el("label", { class: "radio" }, input, el("span", { html: optionLabel(option, ctx) })));
  }
  return box;
}

function selectOptions(element, ctx) {
  const toOption = (o) => el("option", { value: o.value }, el("span", { html: plainText(o.text?.text ?? "") }).textContent);
  const groups = (element.option_groups || []).map((g) =>
    el("optgroup", { label: g.label?.text ?? "" }, (g.options || []).map(toOption)));
  return [...(element.options || []).map(toOption), ...groups];
}

function renderSelect(element, pos, ctx, inForm) {
  const multiple = element.type === "multi_static_select";
  const initial = multiple ? optionValues(element.initial_options) : element.initial_option?.value ?? null;
  const current = currentValue(element, pos, ctx, initial);
  const select = el("select", { class: "select", multiple });
  if (!multiple) {
    select.append(el("option", { value: "", disabled: true }, element.placeholder?.text || "Select an item"));
  }
  select.append(...selectOptions(element, ctx));
  const chosen = new Set(multiple ? current || [] : [current ?? ""]);
  for (const option of select.querySelectorAll("option")) option.selected = chosen.has(option.value);
  select.addEventListener("change", () => {
    const value = multiple ? [...select.selectedOptions].map((o) => o.value) : select.value;
    ctx.state.set(pos, element.action_id, value);
    if (!inForm) fire(element, pos, ctx, value);
  });
  return select;
}

function renderOverflow(element, pos, ctx) {
  const select = el("select", { class: "overflow", title: "More actions" },
    el("option", { value: "", selected: true }, "⋯"), ...selectOptions(element, ctx));
  select.addEventListener("change", () => {
    const value = select.value;
    select.value = "";
    if (value) fire(element, pos, ctx, value);
  });
  return select;
}

function renderPicker(element, pos, ctx, inForm, type, initialKey) {
  const input = el("input", { type, class: "picker", value: currentValue(element, pos, ctx, element[initialKey] ?? "") });
  input.addEventListener("change", () => {
    ctx.state.set(pos, element.action_id, input.value);
    if (!inForm) fire(element, pos, ctx, input.value);
  });
  return input;
}

function renderTextInput(element, pos, ctx, inForm) {
  const value = currentValue(element, pos, ctx, element.initial_value ?? "");
  const attrs = { class: "text-input", placeholder: element.placeholder?.text, maxlength: element.max_length };
  const input = element.multiline ? el("textarea", attrs) : el("input", { ...attrs, type: inputType(element) });
  input.value = value;
  input.addEventListener("input", () => ctx.state.set(pos, element.action_id, input.value));
  if (!inForm || element.dispatch_action) {
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && element.dispatch_action) {
        event.preventDefault();
        fire(element, pos, ctx, input.value);
      }
    });
  }
  return input;
}

function inputType(element) {
  return { number_input: "number", email_text_input: "email", url_text_input: "url" }[element.type] || "text";
}

export function confirmDialogParts(confirm, ctx) {
  return {
    title: plainText(confirm.title?.text ?? "Are you sure?"),
    text: textHtml(confirm.text, ctx),
    yes: plainText(confirm.confirm?.text ?? "Yes"),
    no: plainText(confirm.deny?.text ?? "Cancel"),
    style: confirm.style === "danger" ? "danger" : "primary",
  };
}

export { escapeHtml };
