// The "Requests to the bot" panel: each signed request the page sent, its answer and time,
// numbered by the sandbox (#12), once each however often the panel is refreshed.

import { el } from "./blocks.js";
import { getJson } from "./http.js";

export class RequestLog {
  constructor(panel, list, toggle) {
    this.panel = panel;
    this.list = list;
    this.button = toggle;
    this.open = false;
    this.seq = 0;
    this.loading = null; // the refresh in flight: another waits for it, then reads on
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
    while (this.loading) await this.loading;
    this.loading = this.load();
    try {
      await this.loading;
    } finally {
      this.loading = null;
    }
  }

  async load() {
    for (const sent of await getJson(`/sandbox/requests?after=${this.seq}`)) {
      if (sent.seq <= this.seq) continue;
      this.seq = sent.seq;
      this.list.prepend(el("li", { class: sent.status === 200 ? "" : "bad", "data-seq": String(sent.seq) },
        el("details", {},
          el("summary", {}, `#${sent.seq} ${sent.kind} → HTTP ${sent.status} in ${sent.ms} ms`),
          el("pre", {}, JSON.stringify(sent.body, null, 2)),
          sent.answer ? el("pre", { class: "answer" }, `answer: ${sent.answer}`) : null)));
    }
  }
}
