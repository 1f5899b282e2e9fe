// The "Requests to the bot" panel: each signed request the page sent, its answer and time.

import { el } from "./blocks.js";
import { getJson } from "./http.js";

export class RequestLog {
  constructor(panel, list, toggle) {
    this.panel = panel;
    this.list = list;
    this.button = toggle;
    this.open = false;
    this.seq = 0;
    toggle.addEventListener("click", () => this.toggle());
  }

  toggle() {
    this.open = !this.open;
    this.panel.hidden = !this.open;
    this.button.classList.toggle("active", this.open);
    this.refresh();
  }

  async refresh() {
    if (!this.open) return;
    for (const sent of await getJson(`/sandbox/requests?after=${this.seq}`)) {
      this.seq = Math.max(this.seq, sent.seq);
      this.list.prepend(el("li", { class: sent.status === 200 ? "" : "bad" },
        el("details", {},
          el("summary", {}, `${sent.kind} → HTTP ${sent.status} in ${sent.ms} ms`),
          el("pre", {}, JSON.stringify(sent.body, null, 2)),
          sent.answer ? el("pre", { class: "answer" }, `answer: ${sent.answer}`) : null)));
    }
  }
}
