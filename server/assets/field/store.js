// A tiny key-value store over IndexedDB, shared by the PWA and its service worker.
//
// What is kept on the device: the enrolled device (its id, facility, label and its P-256 key
// pair — CryptoKey objects are stored as they are, so the non-extractable private key never
// exists as bytes the page could read), the issuer keys (JWKS) and the revocation lists for
// offline verification. Never kept: passwords, TOTP codes, residents' data. The paramedic's
// session token lives in sessionStorage (this tab only).

const DB = "kyukit-field";
const STORE = "kv";

// One connection, opened on first use and kept (the outbox writes before every change it sends:
// opening the database each time cost more than the write); closed if a newer version of the
// database is opened elsewhere, and opened again on the next use.
let connection = null;
function open() {
  connection ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => {
      const db = req.result;
      db.onversionchange = () => {
        db.close();
        connection = null;
      };
      db.onclose = () => (connection = null);
      resolve(db);
    };
    req.onerror = () => {
      connection = null;
      reject(req.error);
    };
  });
  return connection;
}

async function tx(mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const req = fn(t.objectStore(STORE));
    t.oncomplete = () => resolve(req?.result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

export const get = (key) => tx("readonly", (s) => s.get(key));
export const put = (key, value) => tx("readwrite", (s) => s.put(value, key));
export const del = (key) => tx("readwrite", (s) => s.delete(key));
