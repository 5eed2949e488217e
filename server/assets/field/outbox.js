// The paramedic app's outbox (issue 21): every change the crew makes — opening an incident, a
// report version, an inquiry — is put here first (IndexedDB, via store.js) with an idempotency key
// of its own, then sent, in order. When the server cannot be reached the change simply waits, is
// shown in the queue (count and state) and is sent when the server answers again (net.js: its
// probe, the browser's `online` event, and every 15 s while something waits). A change whose answer
// was lost on the way is sent again with the same key and the same body, and the server answers it
// with its first answer (`Idempotency-Key`, docs/api.md): it is made once.
//
// An entry is one incident's queue: {id, loginId, open: {incident_ref, access_id, key} | null
// (not opened on the server yet), incidentId, version (the report's, as last answered), steps:
// [{kind: "report", patch, key, body?} | {kind: "inquiry", hospitals, key, body?}], state
// ("queued" | "failed"), error}. A step's body is fixed at its first attempt (the report's
// `base_version` then), so every resend is the same request. Medical data: an entry leaves the
// device once sent; one the server refused stays, shown with the reason, until discarded.

import { ApiError, session, signed } from "./api.js";
import { net } from "./net.js";
import * as store from "./store.js";

const KEY = "outbox";
const uuid = () => crypto.randomUUID();

const listeners = new Set();
const sent = new Map(); // step key → the server's answer, for the caller waiting on it
const refused = new Map(); // step key → the ApiError
let sending = null; // the entry id being sent now (shown as "sending")

let last = []; // the list as last read or written, for rendering without another read
export const entries = async () => (last = (await store.get(KEY).catch(() => null)) || []);

/** `fn({entries, sending, sent: view?, entryId?})` after every change of the queue. */
export function onChange(fn) {
  listeners.add(fn);
}

function emit(extra = {}) {
  for (const fn of listeners) fn({ entries: last, sending, ...extra });
}

// One read-modify-write at a time (the page's only writer; the service worker never touches it).
let chain = Promise.resolve();
function mutate(fn) {
  const next = chain.then(async () => {
    const list = await entries();
    const out = fn(list);
    await store.put(KEY, list);
    last = list;
    return out;
  });
  chain = next.catch(() => {});
  return next;
}

/** Opens an incident: sent now when the server answers, else queued. → {incident} (the server's
 * view) or {queued, incident} (a stand-in: `{local, version: 0, …}`); throws ApiError if refused. */
export async function openIncident(incidentRef, accessId) {
  const open = { incident_ref: incidentRef, access_id: accessId ?? null, key: uuid() };
  const id = uuid();
  await mutate((list) => list.push({ id, loginId: session.loginId, open, incidentId: null, version: 0, steps: [], state: "queued", createdAt: Date.now() }));
  const out = await settle(open.key);
  if (out.queued) out.incident = { local: id, id: null, incident_ref: incidentRef, status: "open", version: 0, report: null, targets: [] };
  return out;
}

/** A change of `incident` (the server's view, or the stand-in of a queued one): `{kind: "report",
 * patch}` or `{kind: "inquiry", hospitals}`. → {incident} or {queued}; throws ApiError if refused. */
export async function change(incident, step) {
  const s = { ...step, key: uuid() };
  await mutate((list) => {
    let e = incident.local ? list.find((x) => x.id === incident.local) : list.find((x) => x.incidentId === incident.id);
    if (!e) {
      e = { id: uuid(), loginId: session.loginId, open: null, incidentId: incident.id, version: incident.version, steps: [], state: "queued", createdAt: Date.now() };
      list.push(e);
    }
    // Nothing before it: its body is fixed now (one write less before it is sent).
    if (!e.steps.length && e.incidentId) s.body = bodyOf(s, e.version);
    e.steps.push(s);
  });
  return settle(s.key);
}

// Sends what waits, then says what became of the step `key`: sent (its answer), refused (the
// step leaves the queue — the form still holds what was typed — and the error is thrown), or
// still queued.
async function settle(key) {
  await flush();
  if (sent.has(key)) {
    const incident = sent.get(key);
    sent.delete(key);
    return { incident };
  }
  if (refused.has(key)) {
    const err = refused.get(key);
    refused.delete(key);
    await mutate((list) => {
      const i = list.findIndex((x) => x.failedKey === key);
      if (i < 0) return;
      const e = list[i];
      if (e.open?.key === key) list.splice(i, 1);
      else {
        e.steps = e.steps.filter((s) => s.key !== key);
        Object.assign(e, { state: "queued", error: null, failedKey: null });
        if (!e.steps.length && e.incidentId) list.splice(i, 1);
      }
    });
    emit();
    throw err;
  }
  return { queued: true };
}

// The server's own refusals (4xx but the transient ones) stop an entry; the rest waits and is
// tried again.
const transient = (e) => !(e instanceof ApiError) || e.status >= 500 || e.status === 429 || e.code === "idempotency_in_progress";

const bodyOf = (step, version) => (step.kind === "report" ? { base_version: version, ...step.patch } : { hospitals: step.hospitals });

let flushing = null;
let again = false;
/** Sends every queued change it can, in order (one flush at a time; asked during one, another
 * follows it — the server may have come back while the first was giving up). */
export function flush() {
  if (flushing) {
    again = true;
    return flushing;
  }
  flushing = (async () => {
    let rounds = 0; // bounded: a request that always fails waits for the 15 s timer
    do {
      again = false;
      await send();
    } while (again && ++rounds < 3);
  })().finally(() => (flushing = null));
  return flushing;
}

async function send() {
  for (;;) {
    if (!session.token || !session.device) return;
    const e = (await entries()).find((x) => x.state === "queued" && x.loginId === session.loginId && (!x.incidentId || x.steps.length));
    if (!e) return;
    const step = e.incidentId ? e.steps[0] : null;
    const key = step ? step.key : e.open.key;
    sending = e.id;
    emit();
    try {
      if (!step) {
        const v = await signed("POST", "/api/v1/incidents", { incident_ref: e.open.incident_ref, access_id: e.open.access_id }, key);
        await mutate((list) => {
          const x = list.find((y) => y.id === e.id);
          Object.assign(x, { incidentId: v.id, version: v.version, open: null });
        });
        sent.set(key, v);
        emit({ sent: v, entryId: e.id });
        continue;
      }
      let body = step.body;
      if (!body) {
        body = bodyOf(step, e.version);
        await mutate((list) => {
          list.find((y) => y.id === e.id).steps[0].body = body;
        });
      }
      const what = step.kind === "report" ? "reports" : "inquiries";
      const v = await signed("POST", `/api/v1/incidents/${e.incidentId}/${what}`, body, key);
      await mutate((list) => {
        const i = list.findIndex((y) => y.id === e.id);
        const x = list[i];
        x.steps.shift();
        x.version = v.version;
        if (!x.steps.length) list.splice(i, 1);
      });
      sent.set(key, v);
      emit({ sent: v, entryId: e.id });
    } catch (err) {
      if (transient(err)) {
        if (!(err instanceof ApiError)) net.probe(); // it says when the server is back
        return;
      }
      refused.set(key, err);
      await mutate((list) => {
        const x = list.find((y) => y.id === e.id);
        Object.assign(x, { state: "failed", error: { code: err.code, status: err.status }, failedKey: key });
      });
    } finally {
      sending = null;
      emit();
    }
  }
}

/** Removes an entry the server refused (after the crew has read why). */
export async function discard(id) {
  await mutate((list) => {
    const i = list.findIndex((x) => x.id === id && x.state === "failed");
    if (i >= 0) list.splice(i, 1);
  });
  emit();
}

/** Forgets everything queued (the device's enrolment removed). */
export async function clear() {
  await store.del(KEY).catch(() => {});
  last = [];
  emit();
}

let timer = null;
/** Sends when the server answers again, and every 15 s while something waits. */
export function start() {
  net.onChange((state) => {
    if (state === "online") flush();
  });
  clearInterval(timer);
  timer = setInterval(async () => {
    if ((await entries()).some((x) => x.state === "queued")) {
      if (net.online()) flush();
      else net.probe();
    }
  }, 15_000);
  entries().then(() => emit());
}
