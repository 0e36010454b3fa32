/**
 * Identifiers that sort by creation time: 10 characters of milliseconds since the epoch, then 16
 * random ones, in lowercase Crockford base32 (ULID layout). Within one millisecond the random
 * part is incremented, so ids made by one process are strictly increasing. Session names are
 * `session-<id>`: a DNS label, so they are valid Kubernetes names too.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

let lastTime = -1;
let lastRandom: number[] = [];

function encodeTime(ms: number): string {
  let out = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32]! + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function freshRandom(): number[] {
  return [...randomBytes(16)].map((b) => b & 31);
}

function increment(digits: number[]): number[] {
  const out = [...digits];
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! < 31) {
      out[i] = out[i]! + 1;
      return out;
    }
    out[i] = 0;
  }
  return freshRandom(); // 32^16 ids in one millisecond: not reachable in practice
}

/** A new time-sortable id (26 characters). */
export function newId(now = Date.now()): string {
  if (now <= lastTime) {
    lastRandom = increment(lastRandom);
    now = lastTime;
  } else {
    lastTime = now;
    lastRandom = freshRandom();
  }
  return encodeTime(now) + lastRandom.map((d) => ALPHABET[d]).join('');
}

export function newSessionName(): string {
  return `session-${newId()}`;
}
