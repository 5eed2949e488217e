// Small DOM helpers of the paramedic app.

export const $ = (id) => document.getElementById(id);

/** `h("p", {class, text, onclick, …}, …children)`: an element; null/false attributes are left out. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) el.append(c);
  return el;
}

export function show(id, on = true) {
  $(id).hidden = !on;
}

/** A phone number as a `tel:` link (digits and + only in the href). */
export function telLink(phone, text = phone, attrs = {}) {
  return h("a", { href: `tel:${String(phone).replace(/[^0-9+]/g, "")}`, class: "tel", translate: "no", ...attrs, text });
}
