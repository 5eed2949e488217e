// The city console's residents view (issue 26): upload a paper-kit register (a dry run first,
// with every rejected row's line, column and reason; then the import, with a progress bar fed by
// the upload's progress events and then by the server's job status), and the yearly
// re-confirmation: the records past their period by district, reminder letters as one PDF, and a
// Web Push reminder to the residents' and proxies' browsers.

import { TOKEN, p, h, user, setText, applyLang, lang, dateOf, day, api, apiBlob, ApiFailure, errorText } from "./common.js";

const $ = (id) => document.getElementById(id);

/** POSTs a file with XHR (for its upload progress); resolves to [status, JSON body]. */
function upload(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open("POST", path);
    const token = sessionStorage.getItem(TOKEN);
    if (token) x.setRequestHeader("Authorization", `Bearer ${token}`);
    x.setRequestHeader("Content-Type", "text/csv");
    x.upload.addEventListener("progress", (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); });
    x.addEventListener("load", () => {
      let body = null;
      try { body = JSON.parse(x.responseText); } catch { /* not JSON */ }
      if (x.status >= 200 && x.status < 300) resolve([x.status, body]);
      else reject(new ApiFailure(x.status, body?.error || "internal", body?.message || ""));
    });
    x.addEventListener("error", () => reject(new ApiFailure(0, "network", "network error")));
    x.send(file);
  });
}

function bar(label) {
  const meter = h("progress", { max: 1, value: 0, "aria-label": label.ja, dataset: { ariaJa: label.ja, ariaEn: label.en } });
  const text = h("span", { class: "progress-text" });
  return { el: h("div", { class: "progress" }, meter, text), meter, text };
}

function setBar(b, done, total, pair) {
  b.meter.max = Math.max(total, 1);
  b.meter.value = done;
  setText(b.text, pair);
}

function report(r) {
  const counts = h("ul", { class: "counts" },
    h("li", { text: p(`行数: ${r.rows}`, `Rows: ${r.rows}`) }),
    h("li", { text: r.dry_run ? p(`取り込める行: ${r.imported}`, `Would be imported: ${r.imported}`) : p(`取り込んだ行: ${r.imported}`, `Imported: ${r.imported}`) }),
    h("li", { text: p(`登録済み（取り込まない）: ${r.already}`, `Already registered (skipped): ${r.already}`) }),
    h("li", { text: p(`問題のある行: ${r.rejected_lines.length}`, `Rows with problems: ${r.rejected_lines.length}`) }));
  const parts = [counts];
  if (r.errors.length) {
    const t = h("table", { class: "grid", id: "import-errors" });
    const head = t.createTHead().insertRow();
    for (const title of [p("行", "Line"), p("列", "Column"), p("理由（英語）", "Reason")]) head.appendChild(h("th", { scope: "col", text: title }));
    const body = t.createTBody();
    for (const e of r.errors) {
      const tr = body.insertRow();
      tr.appendChild(h("td", {}, String(e.line)));
      tr.appendChild(h("td", {}, user(e.column === "-" ? "（行全体）" : e.column)));
      tr.appendChild(h("td", {}, user(e.reason)));
    }
    parts.push(h("h3", { text: p("問題のある行（この行は取り込まれません）", "Rows with problems (these are not imported)") }), h("div", { class: "table-wrap" }, t));
  }
  return h("div", { id: "import-report", dataset: { dryRun: r.dry_run ? "yes" : "no" } }, ...parts);
}

function renderImport(status) {
  const box = $("import-box");
  if (box.childElementCount) return;
  const input = h("input", { type: "file", id: "import-file", accept: ".csv,text/csv" });
  const label = h("label", { for: "import-file", text: p("台帳のCSVファイル（UTF-8）", "Register CSV file (UTF-8)") });
  const check = h("button", { type: "button", id: "import-check", class: "secondary", text: p("確認する（まだ取り込みません）", "Check (imports nothing)") });
  const run = h("button", { type: "button", id: "import-run", class: "primary", disabled: true, text: p("取り込む", "Import") });
  const progress = bar(p("進み具合", "Progress"));
  progress.el.hidden = true;
  const out = h("div", { id: "import-out", "aria-live": "polite" });
  let checked = null; // the file the last dry run checked
  input.addEventListener("change", () => { run.disabled = true; checked = null; out.replaceChildren(); });
  async function go(dry) {
    const file = input.files?.[0];
    if (!file) {
      status(p("CSVファイルを選んでください。", "Choose a CSV file."), "error");
      input.focus();
      return;
    }
    check.disabled = run.disabled = true;
    progress.el.hidden = false;
    out.replaceChildren();
    try {
      const [, body] = await upload(`/api/v1/imports?dry_run=${dry}`, file, (done, total) =>
        setBar(progress, done, total, p(`送信中… ${Math.round((100 * done) / total)}%`, `Uploading… ${Math.round((100 * done) / total)}%`)));
      let r = body;
      if (!dry) {
        // The job: poll its progress until it ends.
        let job = body;
        while (job.state === "running") {
          setBar(progress, job.done, job.total, p(`取り込み中… ${job.done} / ${job.total} 行`, `Importing… ${job.done} of ${job.total} rows`));
          await new Promise((ok) => setTimeout(ok, 400));
          job = await api("GET", `/api/v1/imports/jobs/${job.id}`);
        }
        if (job.state === "failed") throw new ApiFailure(500, job.error_code || "internal", job.error || "");
        setBar(progress, job.total, job.total, p(`完了: ${job.done} 行を取り込みました`, `Done: ${job.done} rows imported`));
        r = job.report;
      } else {
        setBar(progress, 1, 1, p("確認しました", "Checked"));
        checked = file;
      }
      out.replaceChildren(report(r));
      status(dry
        ? p("確認しました。問題のある行を直すか、このまま「取り込む」を押してください（問題のある行は取り込まれません）。", "Checked. Fix the rows with problems, or press Import (rows with problems are not imported).")
        : p("取り込みました。", "Imported."));
    } catch (err) {
      if (!(err instanceof ApiFailure)) throw err;
      status(errorText(err, { invalid_file: p(`ファイルを読めませんでした: ${err.message}`, `The file could not be read: ${err.message}`) }), "error");
    } finally {
      check.disabled = false;
      run.disabled = checked !== input.files?.[0] || !dry;
      applyLang(box);
    }
  }
  check.addEventListener("click", () => go(true));
  run.addEventListener("click", () => go(false));
  box.append(
    h("p", { text: p("紙の救急医療情報キットの台帳（CSV）を取り込みます。まず「確認する」で全部の行を確かめ、問題のある行の行番号・列・理由を見てから取り込んでください。同じ方は二度取り込まれません。", "Import the paper kit's register (CSV). First press Check: every row is checked and each problem is listed with its line, column and reason. Then import. Nobody is imported twice.") }),
    h("div", { class: "field" }, label, input),
    h("div", { class: "actions" }, check, run),
    progress.el,
    out);
}

async function renderStale(status) {
  const district = $("stale-district").value || "";
  const q = district ? `?district=${encodeURIComponent(district)}` : "";
  const list = await api("GET", `/api/v1/reconfirmations${q}`);
  const select = $("stale-district");
  const keep = select.value;
  select.replaceChildren(h("option", { value: "", text: p("すべての地区", "All districts") }),
    ...list.districts.map((d) => h("option", { value: d.district ?? "" }, `${d.district ?? "（地区なし）"} (${d.stale})`)));
  select.value = keep;
  const rows = list.records;
  const out = $("stale-list");
  if (!rows.length) {
    out.replaceChildren(h("p", { class: "notice", text: p(`確認の時期（${list.period_months}か月）を過ぎた登録はありません。`, `No record is past its ${list.period_months}-month check.`) }));
  } else {
    const t = h("table", { class: "grid", id: "stale-table" });
    const head = t.createTHead().insertRow();
    const cols = [p("氏名", "Name"), p("住所", "Address"), p("地区", "District"), p("最後の確認", "Last confirmed"), p("確認の期限", "Due"), p("通知", "Reminded")];
    for (const c of cols) head.appendChild(h("th", { scope: "col", text: c }));
    const body = t.createTBody();
    for (const r of rows) {
      const tr = body.insertRow();
      const cells = [
        user(`${r.family_name} ${r.given_name}`),
        user(r.address),
        user(r.district ?? "—"),
        h("span", { text: dateOf(r.confirmed_at) }),
        h("span", { text: day(r.due_on) }),
        h("span", { text: r.reminded_at ? dateOf(r.reminded_at) : p("まだ", "not yet") }),
      ];
      cells.forEach((c, i) => {
        const td = h("td", { dataset: { labelJa: cols[i].ja, labelEn: cols[i].en } }, c);
        td.dataset.label = cols[i][lang];
        tr.appendChild(td);
      });
    }
    out.replaceChildren(h("p", { text: p(`${rows.length}件`, `${rows.length} records`) }), h("div", { class: "table-wrap" }, t));
  }
  $("stale-letters").disabled = $("stale-remind").disabled = rows.length === 0;
  applyLang($("view-residents"));
}

/** Renders the view; `status(pair, kind)` shows a message. */
export async function renderResidents(status) {
  renderImport(status);
  if (!$("stale-district").dataset.wired) {
    $("stale-district").dataset.wired = "1";
    $("stale-district").addEventListener("change", () => renderStale(status));
    $("stale-letters").addEventListener("click", async () => {
      const d = $("stale-district").value;
      const blob = await apiBlob(`/api/v1/reconfirmations/letters.pdf${d ? `?district=${encodeURIComponent(d)}` : ""}`);
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: "reconfirmation-letters.pdf", class: "button secondary", id: "letters-link", text: p("お知らせの手紙（PDF）を保存する", "Save the letters (PDF)") });
      $("stale-result").replaceChildren(a);
      applyLang($("stale-result"));
      status(p("手紙を作りました（1人1ページ）。", "Letters made (one page per resident)."));
    });
    $("stale-remind").addEventListener("click", async () => {
      const d = $("stale-district").value;
      const r = await api("POST", "/api/v1/reconfirmations/reminders", d ? { district: d } : {});
      status(p(`${r.residents}人のブラウザに通知しました（${r.pushes}件）。通知済み・ブラウザ未登録: ${r.skipped}人。`,
        `Reminded ${r.residents} residents' browsers (${r.pushes} pushes). Already reminded or no browser: ${r.skipped}.`));
      await renderStale(status);
    });
  }
  await renderStale(status);
}

