/**
 * The bound on memory for all clients together (`--clients-memory-bytes`, interface.md "Faults and
 * hostile clients"). Each client is bounded on its own — a plain one by its byte budget, a durable or
 * `since` one by the 1 MiB it may keep queued — but 4,096 connections times either is gigabytes: 200
 * `?since=0` full-stream clients that never read took the server from 139 MB to 1.76 GB. Over the
 * bound, the clients holding the most are closed as slow, largest first, until the others fit.
 *
 * What counts is what each client holds queued and not yet taken by the kernel (`bufferedAmount`). Plain
 * clients of one stream share each batch's bytes, so the sum over-counts them when several hold the same
 * batch: the bound errs on the side of memory, and only clients that do not read hold anything for long.
 */

/** A client as the bound sees it. */
export interface MemoryHolder {
  /** Bytes queued for it and not yet written to its socket. */
  readonly queued: number;
}

/**
 * The clients to close so that the rest hold at most `limit` bytes: the largest holders first, as few
 * as that takes. Pure; `holders` is not reordered.
 * @param limit bytes (--clients-memory-bytes)
 */
export function overMemoryLimit<T extends MemoryHolder>(holders: readonly T[], limit: number): T[] {
  let total = 0;
  for (const h of holders) total += h.queued;
  if (total <= limit) return [];
  const largestFirst = [...holders].sort((a, b) => b.queued - a.queued);
  const close: T[] = [];
  for (const h of largestFirst) {
    if (total <= limit) break;
    close.push(h);
    total -= h.queued;
  }
  return close;
}
