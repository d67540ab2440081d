/**
 * The tokens in force and the stream connections each one holds. A presented token is hashed and its
 * digest compared with every known digest in constant time (all of them, whatever matches), so neither
 * the answer's timing nor its status says which tokens exist.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { TokenSpec } from './token-file.js';

export type TokenCheck = { ok: true; name: string } | { ok: false; reason: 'missing' | 'unknown' | 'limit' };

export class TokenRegistry {
  private tokens: readonly TokenSpec[] = [];
  private readonly open = new Map<string, number>();

  constructor(tokens: readonly TokenSpec[]) {
    this.replace(tokens);
  }

  /** Puts a new set in force (SIGHUP); open connections keep counting under their NAME. */
  replace(tokens: readonly TokenSpec[]): void {
    this.tokens = tokens;
  }

  /** The NAMEs in force. */
  names(): string[] {
    return this.tokens.map((t) => t.name);
  }

  /** The token's NAME, or why it is refused; `connecting`: also check its max-connections. */
  check(presented: string | undefined, connecting: boolean): TokenCheck {
    if (presented === undefined) return { ok: false, reason: 'missing' };
    const digest = createHash('sha256').update(presented, 'utf8').digest();
    let found: TokenSpec | undefined;
    for (const t of this.tokens) if (timingSafeEqual(t.digest, digest) && found === undefined) found = t;
    if (found === undefined) return { ok: false, reason: 'unknown' };
    if (connecting && found.maxConnections !== undefined && this.connections(found.name) >= found.maxConnections) return { ok: false, reason: 'limit' };
    return { ok: true, name: found.name };
  }

  /** Stream connections open under `name`. */
  connections(name: string): number {
    return this.open.get(name) ?? 0;
  }

  /** NAMEs with open connections, and how many. */
  openConnections(): IterableIterator<[string, number]> {
    return this.open.entries();
  }

  /** Counts one more (delta 1) or one fewer (-1) connection under `name`. */
  count(name: string, delta: 1 | -1): void {
    const n = this.connections(name) + delta;
    if (n > 0) this.open.set(name, n);
    else this.open.delete(name);
  }
}
