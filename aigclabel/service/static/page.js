// The aigclabel review page: plain JavaScript, no build step, no external request.
// Served by `aigclabel serve` (uploads go to this server's /v1/review and /v1/inspect) and inlined into
// `aigclabel review --html` (the views are embedded as JSON in #aigc-data).  Every string from a file is set
// as text (textContent / text nodes), never parsed as markup.
"use strict";
(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const items = [];
  let sortKey = null;
  let sortDir = 1;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    return node;
  }

  const pct = (v, total) => `${(100 * v / total).toFixed(4)}%`;

  // ------------------------------------------------------------------------------------------ view

  function tierKey(review) { return review && review.tier ? String(review.tier) : "none"; }

  function producerOf(item) {
    const review = item.view ? item.view.review : item.review;
    const record = review && review.record;
    return record ? record.ContentProducer || "" : "";
  }

  function verdictOf(item) {
    if (item.error) return "error";
    if (item.view) return item.view.compliance.outcome;
    return item.review ? "…" : "pending";
  }

  function summary(item, review) {
    const box = el("div", {class: "summary"});
    const words = item.view ? item.view.verdict.words : null;
    const tier = tierKey(review);
    box.append(el("p", {class: "tier", "data-tier": tier},
      words ? words.en : (review.tier ? `Tier ${review.tier}` : "No tier")));
    if (words) box.append(el("p", {class: "tier", "data-tier": tier, lang: "zh"}, words.zh));
    if (review.tier) {
      const notices = el("p", {class: "notices"}, el("span", {class: "muted"}, "Notice to display: "));
      for (const [lang, text] of Object.entries(review.notices || {})) {
        notices.append(el("span", {class: "notice", lang, "data-lang": lang}, text));
      }
      box.append(notices);
    }
    box.append(el("p", {class: "relied"}, el("strong", {}, "Relied on: "), review.relied_on || ""));
    if (review.write_refused) box.append(el("p", {class: "error"}, "Not written: ", review.write_refused));
    return box;
  }

  function fieldsTable(fields, caption) {
    const dl = el("dl", {class: "kv record"});
    for (const field of fields) {
      dl.append(el("dt", {}, field.name));
      const dd = el("dd", {"data-field": field.name}, el("code", {}, field.value === "" ? "(empty)" : field.value));
      if (field.code) {
        const c = field.code;
        dd.append(el("div", {class: "decoded"},
          `organisation USCC ${c.uscc} (${c.uscc_valid ? "check character valid" : "check character INVALID"}), `
          + `service type: ${c.service_type || "not stated"}` + (c.model_code ? `, model code ${c.model_code}` : "")));
      }
      dl.append(dd);
    }
    return el("div", {}, el("h3", {}, caption), dl);
  }

  function findingsTable(findings) {
    const body = el("tbody");
    for (const f of findings) {
      body.append(el("tr", {class: "finding", "data-rule": f.rule, "data-level": f.level},
        el("td", {class: `level level-${f.level}`}, f.level),
        el("td", {}, el("code", {}, f.rule), el("br"), el("span", {class: "muted"}, f.clause || "")),
        el("td", {}, f.message, f.location ? el("div", {class: "muted"}, `at ${f.location}`) : null)));
    }
    return el("div", {class: "table-wrap"}, el("table", {class: "findings"},
      el("thead", {}, el("tr", {}, el("th", {scope: "col"}, "Level"), el("th", {scope: "col"}, "Rule / clause"),
        el("th", {scope: "col"}, "Message"))), body));
  }

  function imageEvidence(image) {
    const wrap = el("div", {class: "image-evidence"}, el("h3", {}, "Picture"));
    if (image.error) { wrap.append(el("p", {class: "error"}, image.error)); return wrap; }
    const W = image.width, H = image.height;
    const figure = el("figure", {class: "preview", "data-width": W, "data-height": H});
    figure.append(el("img", {src: image.preview, alt: `preview of the picture (${W} × ${H} px)`,
      width: image.preview_size[0], height: image.preview_size[1]}));
    const legend = el("ul", {class: "legend"});
    const ocr = image.ocr;
    if (ocr) {
      if (ocr.require_edge) {
        const m = ocr.edge_margin_px;
        const band = el("div", {class: "edge-band", "data-margin": m, title: "the label must be between the "
          + "picture's edge and this line"});
        band.style.left = pct(m, W); band.style.top = pct(m, H);
        band.style.width = pct(W - 2 * m, W); band.style.height = pct(H - 2 * m, H);
        figure.append(band);
        legend.append(el("li", {}, `dashed line: a label must lie within ${m} px of an edge or corner`));
      }
      legend.append(el("li", {}, `required ink height: at least ${ocr.required_height_px} px`));
      for (const b of ocr.boxes) {
        const [x0, y0, x1, y1] = b.box;
        const box = el("div", {class: b.label ? "ocr-box" : "ocr-box other", "data-box": b.box.join(","),
          "data-text": b.text, "data-height-pct": b.height_pct, "data-qualifies": b.qualifies ? "true" : "false"},
          el("span", {}, `${b.text} · ${b.height_pct} %`));
        box.style.left = pct(x0, W); box.style.top = pct(y0, H);
        box.style.width = pct(x1 - x0, W); box.style.height = pct(y1 - y0, H);
        figure.append(box);
        legend.append(el("li", {class: "ocr-line"}, `“${b.text}” at ${b.position}, box [${b.box.join(", ")}], ink `
          + `height ${b.ink_height_px} px = ${b.height_pct} % of the short side`
          + (b.qualifies ? " — a compliant label" : b.label ? " — label text, not compliant" : " — other text")));
      }
      if (!ocr.boxes.length) legend.append(el("li", {}, "OCR read no text"));
    } else {
      legend.append(el("li", {}, "no OCR result (the visible-label check did not run on this picture)"));
    }
    wrap.append(figure, legend);
    return wrap;
  }

  function audioEvidence(audio) {
    const wrap = el("div", {class: "audio-evidence"}, el("h3", {}, "Audio"));
    if (audio.error && !audio.peaks) { wrap.append(el("p", {class: "error"}, audio.error)); return wrap; }
    const peaks = audio.peaks || [];
    const n = Math.max(1, peaks.length);
    const wave = svg("svg", {class: "wave", viewBox: `0 0 ${n} 200`, preserveAspectRatio: "none", role: "img",
      "aria-label": `waveform of ${audio.duration_s} s`, "data-duration": audio.duration_s});
    let d = "";
    peaks.forEach(([lo, hi], i) => { d += `M${i + 0.5} ${100 - 98 * hi}L${i + 0.5} ${100 - 98 * lo}`; });
    wave.append(svg("path", {d}));
    // seconds -> column: the spans drawn ([start s, end s, columns so far]); a decoder's output may start
    // after 0 s (an MP3's encoder delay), so the axis is the spans', not [0, duration]
    const spans = audio.spans || [];
    if (spans.length) { wave.setAttribute("data-from", spans[0][0]); wave.setAttribute("data-to", spans[spans.length - 1][1]); }
    const column = (t) => {
      let before = 0;
      for (const [a, b, upto] of spans) {
        if (t <= b) return before + Math.max(0, (t - a) / Math.max(b - a, 1e-9)) * (upto - before);
        before = upto;
      }
      return before;
    };
    const legend = el("ul", {class: "legend"});
    for (const s of audio.segments || []) {
      const end = s.end_s === null ? s.start_s + 1.0 : s.end_s;
      const x0 = column(s.start_s), x1 = column(end);
      const rect = svg("rect", {class: `segment ${s.kind}`, x: x0, y: 0, width: Math.max(x1 - x0, 0.5), height: 200,
        "data-start": s.start_s, "data-end": end, "data-kind": s.kind});
      const title = svg("title", {});
      title.textContent = `${s.kind} ${s.start_s}–${end} s`;
      rect.append(title);
      wave.append(rect);
      legend.append(el("li", {class: "segment-note"}, `${s.kind === "rhythm" ? "rhythm prompt ·− ·· (Morse “AI”)"
        : s.kind === "voice" ? "voice prompt" : "speech-like audio"} at ${s.start_s}–${end} s`));
    }
    if (!(audio.segments || []).length) legend.append(el("li", {}, "no prompt found"));
    legend.append(el("li", {}, `drawn: ${spans.map(([a, b]) => `${a}–${b} s`).join(", ")} of ${audio.duration_s} s `
      + `(${audio.decoder || ""})`));
    wrap.append(wave, legend);
    return wrap;
  }

  function documentEvidence(doc) {
    const wrap = el("div", {class: "document-evidence"}, el("h3", {}, "Where the notice is"));
    if (doc.error) { wrap.append(el("p", {class: "error"}, doc.error)); return wrap; }
    if (!doc.passage) { wrap.append(el("p", {}, "no notice was found to show")); return wrap; }
    const p = doc.passage;
    const pre = el("pre", {class: "passage", "data-where": doc.where || ""});
    if (p.start >= 0) {
      pre.append(p.text.slice(0, p.start), el("mark", {}, p.text.slice(p.start, p.start + p.length)),
        p.text.slice(p.start + p.length));
    } else {
      pre.append(p.text);
    }
    wrap.append(el("p", {class: "muted"}, doc.where || ""), pre);
    return wrap;
  }

  function actionsList(actions) {
    const ul = el("ul", {});
    for (const a of actions) {
      ul.append(el("li", {class: "action", "data-action": a.action,
        "data-source-type": a.digitalSourceType ? String(a.digitalSourceType).split("/").pop() : null},
        el("code", {}, a.action),
        a.digitalSourceType ? ` — source type ${String(a.digitalSourceType).split("/").pop()}` : "",
        a.signal ? ` (${a.signal})` : "", a.softwareAgent ? ` by ${a.softwareAgent}` : ""));
    }
    return ul;
  }

  function c2paEvidence(c2pa) {
    const wrap = el("div", {class: "c2pa-evidence"}, el("h3", {}, "C2PA manifest chain"));
    if (c2pa.status !== "present") { wrap.append(el("p", {class: "muted"}, c2pa.message || c2pa.status)); return wrap; }
    const chain = el("ol", {class: "chain"});
    const a = c2pa.active;
    const signer = [a.signer.common_name, a.signer.issuer].filter(Boolean).join(", ");
    chain.append(el("li", {class: "active", "data-manifest": a.label || ""}, el("strong", {}, "active manifest "),
      el("code", {}, a.label || "?"),
      el("div", {}, `${a.title || ""} — ${a.state}${a.failures.length ? ` (${a.failures.join(", ")})` : ""}; `
        + `signed by ${signer || "unknown"}`), actionsList(a.actions)));
    for (const ing of c2pa.ingredients) {
      const failures = (ing.failures || []).map((f) => (typeof f === "string" ? f : f.code)).filter(Boolean);
      chain.append(el("li", {class: "ingredient", "data-manifest": ing.manifest || "", "data-title": ing.title || ""},
        el("strong", {}, "ingredient "), ing.title || "?", ` (${ing.relationship || "?"})`,
        ing.manifest ? el("div", {}, "manifest ", el("code", {}, ing.manifest),
          failures.length ? ` (${failures.join(", ")})` : "")
          : el("div", {class: "muted"}, "no manifest"), actionsList(ing.signals)));
    }
    wrap.append(chain);
    const disclosures = c2pa.ai_disclosures || [];
    if (disclosures.length) {
      wrap.append(el("ul", {class: "legend"}, ...disclosures.map((d) => el("li", {class: "ai-disclosure"},
        `AI disclosure (${d.role || "?"}${d.manifest ? ` ${d.manifest}` : ""}): `,
        el("code", {}, JSON.stringify(d.data || {}))))));
    }
    return wrap;
  }

  function renderView(item) {
    const review = item.view ? item.view.review : item.review;
    const details = el("details", {class: "file-view", id: `view-${item.id}`, "data-name": item.name, open: true});
    details.append(el("summary", {}, el("h2", {}, item.name), " ",
      el("span", {class: "muted"}, review ? `${review.format}` : "")));
    if (item.error) details.append(el("p", {class: "error"}, item.error));
    if (!review) { details.append(el("p", {class: "muted"}, "reviewing…")); return details; }
    details.append(summary(item, review));
    const v = item.view;
    if (!v) {
      details.append(el("p", {class: "muted loading"}, item.error ? "" : "loading the evidence…"));
      return details;
    }
    details.setAttribute("data-loaded", "true");
    details.append(el("p", {class: "compliance"}, el("strong", {}, `Profile ${v.profile}: `),
      `${v.compliance.outcome} (${v.compliance.verdict})`));
    if (v.record) details.append(fieldsTable(v.record, "Record to propagate"));
    for (const lab of v.labels) {
      details.append(fieldsTable(lab.fields, `Record in the file: ${lab.carrier} (${lab.location})`));
      if (lab.problems.length) details.append(el("ul", {class: "error"}, ...lab.problems.map((p) => el("li", {}, p))));
    }
    if (v.security) {
      details.append(el("div", {class: "security"}, el("h3", {}, "SecurityData"),
        el("p", {class: `level level-${v.security.state}`, "data-state": v.security.state}, v.security.state),
        el("ul", {}, ...v.security.items.map((s) => el("li", {}, s.message)))));
    }
    const ev = v.evidence || {};
    if (ev.image) details.append(imageEvidence(ev.image));
    if (ev.audio) details.append(audioEvidence(ev.audio));
    if (ev.document) details.append(documentEvidence(ev.document));
    if (v.c2pa) details.append(c2paEvidence(v.c2pa));
    details.append(el("h3", {}, "Findings"), findingsTable(v.findings));
    const evidence = el("ul", {class: "review-evidence"});
    for (const e of review.evidence) evidence.append(el("li", {}, el("code", {}, e.kind), ": ", e.detail));
    details.append(el("h3", {}, "Review evidence"), evidence);
    return details;
  }

  // ------------------------------------------------------------------------------------------ batch

  function sortValue(item, key) {
    if (key === "tier") { const r = item.view ? item.view.review : item.review; return r && r.tier ? r.tier : 9; }
    if (key === "format") { const r = item.view ? item.view.review : item.review; return r ? r.format : ""; }
    if (key === "verdict") return verdictOf(item);
    if (key === "producer") return producerOf(item);
    return item.name;
  }

  function renderTable() {
    const batch = document.getElementById("batch");
    batch.hidden = items.length === 0;
    const rows = items.slice();
    if (sortKey) {
      rows.sort((a, b) => {
        const x = sortValue(a, sortKey), y = sortValue(b, sortKey);
        return (x < y ? -1 : x > y ? 1 : 0) * sortDir;
      });
    }
    for (const th of document.querySelectorAll("#table th")) {
      const key = th.querySelector("button").dataset.key;
      th.setAttribute("aria-sort", key === sortKey ? (sortDir > 0 ? "ascending" : "descending") : "none");
    }
    const body = document.querySelector("#table tbody");
    body.replaceChildren();
    for (const item of rows) {
      const review = item.view ? item.view.review : item.review;
      const open = el("button", {type: "button", class: "open", "data-id": item.id}, item.name);
      open.addEventListener("click", () => {
        const target = document.getElementById(`view-${item.id}`);
        if (target) { target.open = true; target.scrollIntoView(); target.querySelector("summary").focus(); }
      });
      body.append(el("tr", {"data-name": item.name}, el("td", {}, open), el("td", {}, review ? review.format : ""),
        el("td", {class: "verdict"}, verdictOf(item)), el("td", {class: "tier-cell"}, review ? tierKey(review) : ""),
        el("td", {}, producerOf(item))));
    }
  }

  function render(item) {
    const old = document.getElementById(`view-${item.id}`);
    const fresh = renderView(item);
    if (old) { fresh.open = old.open; old.replaceWith(fresh); } else document.getElementById("views").append(fresh);
    renderTable();
  }

  // ------------------------------------------------------------------------------------------ downloads

  const SARIF_LEVEL = {"error": ["error", "fail"], "warning": ["warning", "fail"], "info": ["note", "informational"],
    "pass": ["none", "pass"], "not-checked": ["note", "review"]};

  function sarif() {
    const rules = new Map();
    const results = [];
    for (const item of items) {
      if (!item.view) continue;
      for (const f of item.view.report.findings) {
        const id = f.clause || f.rule;
        if (!rules.has(id)) rules.set(id, {id, name: f.rule, shortDescription: {text: `${f.rule} (${id})`}});
        const [level, kind] = SARIF_LEVEL[f.level] || ["note", "review"];
        results.push({ruleId: id, level, kind, message: {text: f.message},
          locations: [{physicalLocation: {artifactLocation: {uri: item.name}},
            ...(f.location ? {message: {text: f.location}} : {})}],
          properties: {rule: f.rule, aigclabelLevel: f.level}});
      }
    }
    return {$schema: "https://json.schemastore.org/sarif-2.1.0.json", version: "2.1.0",
      runs: [{tool: {driver: {name: "aigclabel", rules: [...rules.values()]}}, results}]};
  }

  function plain(item) {
    const out = {name: item.name, review: item.view ? item.view.review : item.review};
    if (item.view) { out.report = item.view.report; out.compliance = item.view.compliance; }
    if (item.error) out.error = item.error;
    return out;
  }

  function download(name, text, type) {
    const url = URL.createObjectURL(new Blob([text], {type}));
    const a = el("a", {href: url, download: name});
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  // ------------------------------------------------------------------------------------------ uploads

  function status(text) { document.getElementById("status").textContent = text; }

  // The API key (servers started with --api-key): asked once, kept for this tab in sessionStorage, sent in a
  // header with every request; never put in an address, where it would end up in logs and history.
  const KEY = "aigclabel-api-key";
  let keyWaiters = [];

  function authHeaders() {
    const key = sessionStorage.getItem(KEY);
    return key ? {"Authorization": `Bearer ${key}`} : {};
  }

  function askKey(message) {
    const form = document.getElementById("key-form");
    document.getElementById("pick").hidden = true;
    form.hidden = false;
    document.getElementById("key-error").textContent = message || "";
    document.getElementById("key").focus();
    return new Promise((resolve) => keyWaiters.push(resolve));
  }

  async function checkKey() {  // resolves when the server accepts this tab's key (or needs none)
    for (let refused = false; ; refused = true) {
      const response = await fetch("v1/profiles", {headers: authHeaders()});
      if (response.status !== 401) break;
      sessionStorage.removeItem(KEY);
      await askKey(refused ? "That key was refused; try again." : "");
    }
    document.getElementById("key-form").hidden = true;
    document.getElementById("pick").hidden = false;
  }

  async function post(path, file) {
    const form = new FormData();
    form.append("file", file, file.name);
    if (document.getElementById("declared").checked) form.append("declared_ai", "true");
    const code = document.getElementById("platform").value.trim();
    if (code) form.append("platform_code", code);
    const response = await fetch(path, {method: "POST", body: form, headers: authHeaders()});
    let body = null;
    try { body = await response.json(); } catch (exc) { body = null; }
    if (response.status === 401) {  // the key changed on the server: ask again, then retry this file
      sessionStorage.removeItem(KEY);
      await askKey("The server refused the key; enter it again.");
      document.getElementById("key-form").hidden = true;
      document.getElementById("pick").hidden = false;
      return post(path, file);
    }
    if (!response.ok) {
      const message = body && body.error ? `${body.error.kind}: ${body.error.message}` : `HTTP ${response.status}`;
      throw new Error(message);
    }
    return body;
  }

  function upload(files) {
    const list = Array.from(files);
    let left = list.length;
    status(`reviewing ${left} file(s)…`);
    for (const file of list) {
      const item = {id: items.length + 1, name: file.name, review: null, view: null, error: null};
      items.push(item);
      render(item);
      // The review answers first (the verdict, tier and notice); the evidence is asked for only then, so the
      // two never compete for the server's workers and the first view comes as fast as /v1/review alone.
      post("v1/review", file).then((body) => { if (!item.view) { item.review = body; render(item); } })
        .catch((exc) => { item.error = item.error || exc.message; render(item); })
        .then(() => post("v1/inspect", file))
        .then((body) => { item.view = body; item.review = body.review; item.error = null; })
        .catch((exc) => { item.error = exc.message; })
        .finally(() => { render(item); left -= 1; status(left ? `reviewing ${left} file(s)…` : "done"); });
    }
  }

  function start() {
    for (const button of document.querySelectorAll("#table th button")) {
      button.addEventListener("click", () => {
        const key = button.dataset.key;
        sortDir = key === sortKey ? -sortDir : 1;
        sortKey = key;
        renderTable();
      });
    }
    document.getElementById("dl-json").addEventListener("click", () =>
      download("aigclabel-review.json", JSON.stringify(items.map(plain), null, 2), "application/json"));
    document.getElementById("dl-jsonl").addEventListener("click", () =>
      download("aigclabel-review.jsonl", items.map((i) => JSON.stringify(plain(i))).join("\n") + "\n",
        "application/x-ndjson"));
    document.getElementById("dl-sarif").addEventListener("click", () =>
      download("aigclabel-review.sarif", JSON.stringify(sarif(), null, 2), "application/sarif+json"));

    const embedded = document.getElementById("aigc-data");
    if (embedded) {  // the self-contained report: the views are in the file
      const data = JSON.parse(embedded.textContent);
      for (const view of data.views) {
        const item = {id: items.length + 1, name: view.name, review: view.review, view, error: null};
        items.push(item);
        render(item);
      }
      for (const e of data.errors) {
        const item = {id: items.length + 1, name: e.path, review: null, view: null, error: e.error};
        items.push(item);
        render(item);
      }
      return;
    }
    document.getElementById("key-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const value = document.getElementById("key").value.trim();
      if (!value) return;
      sessionStorage.setItem(KEY, value);
      document.getElementById("key").value = "";
      const waiters = keyWaiters;
      keyWaiters = [];
      for (const resolve of waiters) resolve();
    });
    checkKey().catch((exc) => status(`the server did not answer: ${exc.message}`));
    document.getElementById("platform").value = document.body.dataset.platform || "";
    const input = document.getElementById("files");
    input.addEventListener("change", () => { if (input.files.length) upload(input.files); input.value = ""; });
    const drop = document.getElementById("drop");
    drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
    drop.addEventListener("click", (e) => { if (e.target !== input) input.click(); });
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); upload(e.dataTransfer.files); });
  }

  start();
})();
