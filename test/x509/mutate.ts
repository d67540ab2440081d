// Seeded mutations of real DER for the robustness test and the per-input time check in bench/render.ts.
// Deterministic: the same seed gives the same inputs, so a failure can be replayed from its seed and index.

/** mulberry32: a small, fast, seeded PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One mutated copy of `der`; `kind` names the mutation for failure messages. */
export interface Mutation {
  kind: string;
  bytes: Uint8Array;
}

/** A mutation of `der` chosen by `rnd`: byte flips, random bytes, truncation, insertion, deletion, length tweaks. */
export function mutate(der: Uint8Array, rnd: () => number): Mutation {
  const n = der.length;
  const at = (): number => Math.floor(rnd() * n);
  const out = Uint8Array.from(der);
  switch (Math.floor(rnd() * 8)) {
    case 0: {
      const k = 1 + Math.floor(rnd() * 4);
      for (let i = 0; i < k; i++) out[at()] ^= 1 << Math.floor(rnd() * 8);
      return { kind: 'bitflip', bytes: out };
    }
    case 1: {
      const k = 1 + Math.floor(rnd() * 8);
      for (let i = 0; i < k; i++) out[at()] = Math.floor(rnd() * 256);
      return { kind: 'random-bytes', bytes: out };
    }
    case 2:
      return { kind: 'truncate', bytes: der.slice(0, at()) };
    case 3: {
      const i = at();
      const len = 1 + Math.floor(rnd() * 16);
      const ins = Uint8Array.from({ length: len }, () => Math.floor(rnd() * 256));
      const r = new Uint8Array(n + len);
      r.set(der.subarray(0, i));
      r.set(ins, i);
      r.set(der.subarray(i), i + len);
      return { kind: 'insert', bytes: r };
    }
    case 4: {
      const i = at();
      const len = 1 + Math.floor(rnd() * 32);
      const end = Math.min(n, i + len);
      const r = new Uint8Array(n - (end - i));
      r.set(der.subarray(0, i));
      r.set(der.subarray(end), i);
      return { kind: 'delete', bytes: r };
    }
    case 5: {
      // Length-byte tweaks: find a plausible length octet after a tag and change it.
      const k = 1 + Math.floor(rnd() * 3);
      for (let j = 0; j < k; j++) {
        const i = 1 + Math.floor(rnd() * (n - 1));
        const choices = [0x00, 0x7f, 0x80, 0x81, 0x82, 0x84, 0x85, 0xff, out[i] + 1, out[i] - 1];
        out[i] = choices[Math.floor(rnd() * choices.length)] & 0xff;
      }
      return { kind: 'length', bytes: out };
    }
    case 6: {
      // Tag swaps between the types the parser distinguishes.
      const tags = [0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x14, 0x16, 0x17, 0x18, 0x1e, 0x1c, 0x30, 0x31, 0x80, 0x82, 0x86, 0xa0, 0xa3, 0x1f];
      const k = 1 + Math.floor(rnd() * 4);
      for (let j = 0; j < k; j++) out[at()] = tags[Math.floor(rnd() * tags.length)];
      return { kind: 'tag', bytes: out };
    }
    default: {
      // Duplicate a range (repeated extensions, attributes, nested garbage).
      const i = at();
      const len = 1 + Math.floor(rnd() * 64);
      const piece = der.subarray(i, Math.min(n, i + len));
      const j = at();
      const r = new Uint8Array(n + piece.length);
      r.set(der.subarray(0, j));
      r.set(piece, j);
      r.set(der.subarray(j), j + piece.length);
      return { kind: 'duplicate', bytes: r };
    }
  }
}
