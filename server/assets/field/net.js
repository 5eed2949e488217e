// Whether the Kyukit server answers: what the paramedic app and the ED board mean by "online".
// `navigator.onLine` only says that the device has some network interface; it stays true behind a
// captive portal, with the server down, and (Chromium under Playwright's offline mode) with no
// network at all, so here the browser's `online`/`offline` events are only hints. The state comes
// from a cheap probe of /healthz with a short timeout — at start, every so often (sooner while
// offline), on those events and when the page becomes visible — and from the outcome of every real
// request made through `net.fetch`: any HTTP answer means online, a failure means the server is not
// reached — "offline" when the browser says it has no network (`navigator.onLine` false is
// believed; true proves nothing), else "no_server": the network is there but the server does not
// answer (down, blocked, a captive portal). Issue 21: people are told which.
//
// States: "checking" (not known yet: nothing is claimed), "online", "no_server", "offline".

/** The server could not be reached (the request never got an HTTP answer). */
export class NetworkError extends Error {
  constructor(cause) {
    super(cause?.message || "network error", { cause });
    this.name = "NetworkError";
  }
}

/** Set by the app's service worker on a cached copy it serves because the network failed. */
export const OFFLINE_COPY = "x-kyukit-offline-copy";

// A reverse proxy's own answer when the server behind it is down: the server did not answer.
const GATEWAY = new Set([502, 504]);

export function createNet({
  fetchFn = (...args) => globalThis.fetch(...args),
  healthUrl = "/healthz",
  timeoutMs = 2500, // a phone with one bar of signal should not wait longer to be told "offline"
  everyOnlineMs = 20_000,
  everyOfflineMs = 5_000, // notice quickly when the signal returns
} = {}) {
  let state = "checking";
  let probing = null;
  let started = false;
  let timer = null;
  const listeners = new Set();

  function schedule() {
    if (!started) return;
    clearTimeout(timer);
    timer = setTimeout(probe, state === "online" ? everyOnlineMs : everyOfflineMs);
  }

  function set(next) {
    if (next === state) return;
    const prev = state;
    state = next;
    schedule(); // the cadence follows the state
    for (const fn of listeners) fn(next, prev);
  }

  const reached = (r) => !GATEWAY.has(r.status) && !r.headers?.get?.(OFFLINE_COPY);
  // Not reached: is there a network at all? Only the browser's "no" is worth believing.
  const unreached = () => (globalThis.navigator?.onLine === false ? "offline" : "no_server");

  /** Asks the server now (one probe at a time); resolves to the new state. */
  function probe() {
    if (probing) return probing;
    probing = (async () => {
      const ctl = new AbortController();
      const timeout = setTimeout(() => ctl.abort(), timeoutMs);
      try {
        const r = await fetchFn(healthUrl, { cache: "no-store", signal: ctl.signal });
        set(reached(r) ? "online" : unreached());
      } catch {
        set(unreached()); // refused, no network, or no answer in time
      } finally {
        clearTimeout(timeout);
        probing = null;
        schedule();
      }
      return state;
    })();
    return probing;
  }

  /** `fetch`, noting what its outcome says about the server; a network failure throws NetworkError. */
  async function netFetch(input, init) {
    let r;
    try {
      r = await fetchFn(input, init);
    } catch (e) {
      if (e?.name === "AbortError") throw e; // cancelled by us: says nothing about the server
      set(unreached());
      throw new NetworkError(e);
    }
    set(reached(r) ? "online" : unreached());
    return r;
  }

  return {
    state: () => state,
    /** Whether the server is known to answer now. */
    online: () => state === "online",
    /** Whether the server is known not to answer now ("offline" or "no_server"). */
    unreachable: () => state === "offline" || state === "no_server",
    fetch: netFetch,
    probe,
    /** The state once known: waits for a probe while still "checking". */
    settled: () => (state === "checking" ? probe() : Promise.resolve(state)),
    /** `fn(state, previous)` on every change. */
    onChange(fn) {
      listeners.add(fn);
    },
    /** Starts probing (now, then periodically) and listening to the browser's hints. */
    start() {
      if (!started) {
        started = true;
        globalThis.addEventListener("online", () => probe());
        globalThis.addEventListener("offline", () => set("offline"));
        globalThis.document?.addEventListener("visibilitychange", () => {
          if (document.visibilityState === "visible") probe();
        });
      }
      return probe();
    },
  };
}

/** The pages' one instance. */
export const net = createNet();
