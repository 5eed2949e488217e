// TOTP codes (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps) for the staff logins of both
// browser suites (tests/browser and tests/browser/field); no dependencies.
//
// The server accepts the code of the step before, at or after its own (clock drift, ±1) and, per
// account, only a step after the last one it accepted (RFC 6238 §5.2: no code twice). So a code
// handed out here is for a step that is
//   - after every step already handed out for the same secret in this process, whichever
//     Authenticator handed it out (a second object for the same account cannot reuse a step), and
//   - the current step or the next one, never the previous: the server stops accepting the
//     previous step at the next boundary, which may come before the login carrying it arrives.
//     The current step stays good for at least 30 s, the next one for at least 60 s.
// When both are used up, code() waits until the next boundary, computed from the clock.

import crypto from "node:crypto";

export const STEP_SECONDS = 30;

export function base32Decode(s) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of s.replace(/=+$/, "").toUpperCase()) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The code of a time step; `digits` 6 (Kyukit) or 8 (the RFC's vectors). */
export function hotp(key, counter, digits = 6) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = crypto.createHmac("sha1", key).update(msg).digest();
  const off = mac[mac.length - 1] & 0x0f;
  const bin = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
  return String(bin % 10 ** digits).padStart(digits, "0");
}

export const totp = (secretB32, unix = Date.now() / 1000) => hotp(base32Decode(secretB32), Math.floor(unix / STEP_SECONDS));

/** The last step handed out per secret, shared by every Authenticator in this process. */
const lastStep = new Map();

/**
 * The step to use for a secret at `nowMs` given the last step used (or -Infinity): the current
 * step or the next one, after `last`; `null` when both are used (wait for the next boundary).
 */
export function nextStep(last, nowMs) {
  const now = Math.floor(nowMs / 1000 / STEP_SECONDS);
  const step = Math.max(now, last + 1);
  return step <= now + 1 ? step : null;
}

/** Codes for one staff account; see the top of this file. */
export class Authenticator {
  constructor(secret) {
    this.secret = secret.toUpperCase();
    this.key = base32Decode(secret);
  }

  /** A code for a step no login of this account in this process has used; waits if need be. */
  async code() {
    for (;;) {
      const nowMs = Date.now();
      const step = nextStep(lastStep.get(this.secret) ?? -Infinity, nowMs);
      if (step !== null) {
        lastStep.set(this.secret, step); // claimed before any await: no two callers get it
        return hotp(this.key, step);
      }
      const boundary = (Math.floor(nowMs / 1000 / STEP_SECONDS) + 1) * STEP_SECONDS * 1000;
      await new Promise((r) => setTimeout(r, boundary - nowMs + 50));
    }
  }
}
