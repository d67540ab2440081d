/**
 * A webhook URL as a delivery target: a JSON POST per match (webhook-body.ts).
 * - The time limit covers the whole exchange, the response body included (a server answering 1 byte/s
 *   cannot hold an attempt longer than `timeoutMs`), and the timer is the target's own, cleared when
 *   the attempt ends (an AbortSignal.timeout can be collected with its request and never fire).
 * - At most MAX_RESPONSE_BYTES of the response are read, then the connection is dropped: a 2 GiB body
 *   costs 64 KiB.
 * - User-info in the URL (`https://user:token@host/…`, which fetch refuses) is sent as HTTP Basic
 *   authentication; it and the query string never appear in `label` or errors.
 * - A 4xx other than 408 and 429 is a permanent refusal; Retry-After (seconds or HTTP date) is honoured.
 */
import { parseRetryAfter } from '../ct/backoff.js';
import { describeError } from '../errors.js';
import { VERSION } from '../version.js';
import type { DeliveryTarget, SendResult } from './delivery-target.js';
import { redactUrl } from './redact.js';
import type { StoredMatch } from './store.js';
import { webhookBody } from './webhook-body.js';

/** Most response bytes read per attempt. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

/** True for a status that says retrying cannot help (4xx other than 408 Request Timeout and 429 Too Many Requests). */
export function isPermanentRefusal(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/** Reads at most `max` bytes of a body, then cancels the rest (which closes the connection). */
async function drainCapped(body: ReadableStream<Uint8Array> | null, max: number): Promise<void> {
  if (!body) return;
  const reader = body.getReader();
  let seen = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    seen += value.byteLength;
    if (seen >= max) {
      void reader.cancel().catch(() => undefined);
      return;
    }
  }
}

export class WebhookTarget implements DeliveryTarget {
  readonly key: string;
  readonly label: string;
  readonly kind = 'webhook';
  private readonly requestUrl: string;
  private readonly authorization: string | undefined;
  private readonly timeoutMs: number;

  /**
   * @param url an http(s) URL (checked by the caller)
   * @param timeoutMs limit of one whole exchange, request to last body byte read
   */
  constructor(url: string, timeoutMs: number) {
    this.key = url;
    this.label = redactUrl(url);
    this.timeoutMs = timeoutMs;
    const u = new URL(url);
    if (u.username !== '' || u.password !== '') {
      const user = decodeURIComponent(u.username);
      const pass = decodeURIComponent(u.password);
      this.authorization = `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`;
      u.username = '';
      u.password = '';
    }
    this.requestUrl = u.toString();
  }

  async send(match: StoredMatch, signal: AbortSignal): Promise<SendResult> {
    const body = webhookBody(match);
    const headers: Record<string, string> = {
      'content-type': 'application/json', 'idempotency-key': body.id, 'user-agent': `certstream-watch/${VERSION}`,
    };
    if (this.authorization) headers.authorization = this.authorization;
    const ctl = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let onStop: (() => void) | undefined;
    // Settles when the time limit passes or the watcher stops, whatever the request is doing.
    const cut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const e = new Error(`no complete answer within ${this.timeoutMs} ms`);
        ctl.abort(e);
        reject(e);
      }, this.timeoutMs);
      onStop = () => {
        const e = new Error('stopping');
        ctl.abort(e);
        reject(e);
      };
      if (signal.aborted) onStop();
      else signal.addEventListener('abort', onStop, { once: true });
    });
    const exchange = (async () => {
      const res = await fetch(this.requestUrl, { method: 'POST', headers, body: JSON.stringify(body), signal: ctl.signal, redirect: 'error' });
      await drainCapped(res.body, MAX_RESPONSE_BYTES);
      return res;
    })();
    exchange.catch(() => undefined);
    cut.catch(() => undefined);
    try {
      const res = await Promise.race([exchange, cut]);
      if (res.status >= 200 && res.status < 300) return { ok: true };
      return {
        ok: false, error: `HTTP ${res.status}`, permanent: isPermanentRefusal(res.status),
        retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), Date.now()),
      };
    } catch (err) {
      return { ok: false, error: redactUrl(describeError(err)), permanent: false };
    } finally {
      clearTimeout(timer);
      if (onStop) signal.removeEventListener('abort', onStop);
      ctl.abort();
    }
  }
}
