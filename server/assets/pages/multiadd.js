// Quicker entry on a phone (issue 26): several items of one category in one form, one row per
// item; "add another" adds a row in the page, with no round trip; each text field suggests what
// this record already holds for it (a <datalist> of the resident's earlier entries). Every row's
// problems are shown at once, with focus on the first; then each row is saved in turn, and a row
// saved leaves the form, so a refusal keeps only the rows still to save. The first row's fields
// have the item's own names (`name`), the later rows' are suffixed (`name__2`).

import { p, h, field, form, values, problems, showErrors, showError, clearErrors, applyLang, ApiFailure, errorField, errorText } from "./common.js";

const suffixed = (name, n) => (n === 1 ? name : `${name}__${n}`);

/** Whether a row holds nothing typed or ticked (a blank extra row is skipped). */
function blank(specs, v) {
  return specs.every((s) => (s.type === "checkbox" ? !v[s.name] : v[s.name] === null || v[s.name] === ""));
}

/**
 * The form. `cat`: the category (its `key`, `title`, `fields`); `previous`: the bodies of the
 * record's items of this category (the suggestions); `save(body)`: sends one item; `done(count)`:
 * after every row was saved; `cancel`: the cancel button's handler.
 */
export function multiAddForm(cat, { previous, save, done, cancel }) {
  const f = h("form", { novalidate: true, class: "stack multi-add" });
  f.appendChild(h("p", { class: "form-error error", role: "alert", hidden: true }));
  const lists = {};
  for (const s of cat.fields) {
    if ((s.type && s.type !== "text") || s.options) continue;
    const seen = [...new Set(previous.map((b) => b[s.name]).filter((v) => typeof v === "string" && v.trim()))].sort();
    if (!seen.length) continue;
    lists[s.name] = `suggest-${cat.key}-${s.name}`;
    f.appendChild(h("datalist", { id: lists[s.name], translate: "no" }, ...seen.map((v) => h("option", { value: v }, v))));
  }
  const box = h("div", { class: "rows" });
  const rows = [];
  let made = 0;
  let saved = 0;
  const relabel = () => {
    rows.forEach((r, i) => {
      r.legend.replaceChildren(h("span", { text: p(`${i + 1}件目`, `Item ${i + 1}`) }));
      applyLang(r.legend);
      // The error summary names the row too ("2件目の薬の名前").
      for (const s of r.specs) {
        const box = r.row.querySelector(`.field[data-field="${s.name}"]`);
        if (box) Object.assign(box.dataset, { labelJa: `${i + 1}件目の${s.label.ja}`, labelEn: `${s.label.en} (item ${i + 1})` });
      }
    });
  };
  const addRow = () => {
    const n = ++made;
    const specs = cat.fields.map((s) => ({ ...s, name: suffixed(s.name, n), list: lists[s.name] }));
    const legend = h("legend");
    const row = h("fieldset", { class: "item-row", dataset: { row: n } }, legend, ...specs.map(field));
    const r = { n, specs, row, legend };
    if (n > 1) {
      const remove = h("button", { type: "button", class: "secondary", text: p("この行を消す", "Remove this row") });
      remove.addEventListener("click", () => {
        rows.splice(rows.indexOf(r), 1);
        row.remove();
        relabel();
        more.focus();
      });
      row.appendChild(h("div", { class: "actions" }, remove));
    }
    rows.push(r);
    box.appendChild(row);
    relabel();
    applyLang(row);
    return row;
  };
  const more = h("button", { type: "button", class: "secondary more", text: p("＋ もう1件ふやす", "+ Another one") });
  more.addEventListener("click", () => addRow().querySelector("input, select, textarea").focus());
  const submit = h("button", { type: "submit", class: "primary", text: p("まとめて保存する", "Save all") });
  const cancelButton = h("button", { type: "button", class: "secondary", text: p("やめる", "Cancel") });
  cancelButton.addEventListener("click", cancel);
  f.append(box, h("div", { class: "actions" }, more), h("div", { class: "actions" }, submit, cancelButton));
  addRow();

  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(f);
    const todo = [];
    const found = [];
    for (const r of rows) {
      const v = values(f, r.specs);
      if (rows.length > 1 && blank(r.specs, v)) continue;
      found.push(...problems(r.specs, v));
      todo.push([r, v]);
    }
    if (found.length) {
      showErrors(f, found);
      return;
    }
    submit.disabled = true;
    try {
      for (const [r, v] of todo) {
        const body = {};
        for (const s of cat.fields) body[s.name] = v[suffixed(s.name, r.n)];
        try {
          await save(body);
        } catch (err) {
          if (!(err instanceof ApiFailure)) throw err;
          // The API names the item's field; the form's is this row's.
          const name = errorField(err);
          const rest = (err.message || "").replace(/^[a-z_.]+: /, "");
          const moved = name ? new ApiFailure(err.status, err.code, `${suffixed(name, r.n)}: ${rest}`) : err;
          showError(f, moved, { [err.code]: errorText(err) });
          return;
        }
        saved += 1;
        rows.splice(rows.indexOf(r), 1);
        r.row.remove();
        if (!rows.length) addRow();
        relabel();
      }
      await done(saved);
    } finally {
      submit.disabled = false;
    }
  });
  return f;
}

/**
 * The "add" form of a category: the plain form for a category of one entry (blood type, advance
 * directive, …), else the form of several rows. `previous`: the bodies of the record's items of
 * this category; `send(body)`: POSTs one item; `refresh(pair)`: re-renders the category with a
 * message; `close`: cancel.
 */
export function addForm(cat, previous, { send, refresh, close }) {
  const added = (n) => (n > 1
    ? p(`「${cat.title.ja}」に${n}件追加しました。`, `Added ${n} to “${cat.title.en}”.`)
    : p(`「${cat.title.ja}」に追加しました。`, `Added to “${cat.title.en}”.`));
  if (!cat.single) return multiAddForm(cat, { previous, save: send, done: (n) => refresh(added(n)), cancel: close });
  const cancel = h("button", { type: "button", class: "secondary", text: p("やめる", "Cancel") });
  cancel.addEventListener("click", close);
  return form(cat.fields, p("保存する", "Save"), async (v) => {
    const body = {};
    for (const s of cat.fields) body[s.name] = v[s.name];
    await send(body);
    await refresh(added(1));
  }, [cancel]);
}
