// "No raw code in a person's view" (issue 19): the code lists come from the server's source —
// `text_enum!`s in server/src/domain.rs, the audit actions of server/src/audit/mod.rs and the
// NEMSIS codes of server/src/service/report.rs — never from a list kept here, so a value added to
// the server is checked too. Shared by tests/browser and tests/browser/field.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const SERVER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../server/src");

/** The texts of each `text_enum!` in domain.rs, by enum name. */
export function domainEnums(source = fs.readFileSync(path.join(SERVER, "domain.rs"), "utf8")) {
  const out = {};
  const re = /text_enum!\s*\{[\s\S]*?pub enum (\w+)\s*\{([\s\S]*?)\n\s*\}\s*\n\}/g;
  for (let m = re.exec(source); m; m = re.exec(source)) {
    out[m[1]] = [...m[2].matchAll(/^\s*\w+\s*=\s*"([^"]+)"/gm)].map((x) => x[1]);
  }
  return out;
}

/** The audit actions' texts (`Action::X => "x.y"` in audit/mod.rs). */
export function auditActions(source = fs.readFileSync(path.join(SERVER, "audit", "mod.rs"), "utf8")) {
  return [...source.matchAll(/Action::\w+ => "([a-z_.]+)"/g)].map((m) => m[1]);
}

/** The NEMSIS eDisposition.24 codes of the activation types (service/report/mod.rs). */
export function nemsisCodes(source = fs.readFileSync(path.join(SERVER, "service", "report", "mod.rs"), "utf8")) {
  return [...source.matchAll(/\("[a-z_]+", "(\d{7})"/g)].map((m) => m[1]);
}

/**
 * The code lists a person must never read raw: categories, severities, device kinds, activation
 * types (and their NEMSIS codes), age bands, audit actions and purposes. {list name: [codes]}.
 */
export function codeLists() {
  const e = domainEnums();
  const lists = {
    categories: e.Category,
    severities: e.AllergySeverity,
    "device kinds": e.DeviceKind,
    activations: e.Activation,
    "age bands": e.AgeBand,
    purposes: e.Purpose,
    "audit actions": auditActions(),
    "NEMSIS codes": nemsisCodes(),
  };
  for (const [name, codes] of Object.entries(lists)) {
    if (!codes || codes.length < 3) throw new Error(`could not read the ${name} from the server's source: ${JSON.stringify(codes)}`);
  }
  return lists;
}

/** Where each code in `strings` occurs as a whole token (case-sensitive: "STEMI" is a word, "stemi" a code). */
export function rawCodes(strings, lists = codeLists()) {
  const hits = [];
  const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  for (const [list, codes] of Object.entries(lists)) {
    for (const code of codes) {
      const re = new RegExp(`(^|[^A-Za-z0-9_.+-])${esc(code)}($|[^A-Za-z0-9_.+-]|\\.(?![a-z]))`);
      for (const s of strings) if (re.test(s)) hits.push(`${list} "${code}" in ${JSON.stringify(s.slice(0, 120))}`);
    }
  }
  return hits;
}

/**
 * Every string a person can see on the page: visible text nodes, and the accessible names,
 * titles, placeholders and alt texts of visible elements, and the labels of visible buttons.
 */
export async function visibleStrings(page) {
  return page.evaluate(() => {
    const out = [];
    const visible = (el) => {
      if (!el.getClientRects().length || el.closest("[hidden], script, style, template")) return false;
      const s = getComputedStyle(el);
      return s.visibility !== "hidden" && s.display !== "none";
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const t = n.textContent.trim();
      if (t && n.parentElement && visible(n.parentElement)) out.push(t);
    }
    for (const el of document.querySelectorAll("[aria-label], [title], [placeholder], [alt], input[type=button], input[type=submit]")) {
      if (!visible(el)) continue;
      for (const a of ["aria-label", "title", "placeholder", "alt"]) if (el.getAttribute(a)) out.push(el.getAttribute(a));
      if (el.type === "button" || el.type === "submit") out.push(el.value);
    }
    out.push(document.title);
    return out;
  });
}
