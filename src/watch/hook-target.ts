/**
 * A hook executable as a delivery target (certspotter's model, interface.md `--hook PATH`): run once per
 * new match, without a shell, with the match in environment variables (`hookEnv`, pure). Exit status 0
 * means delivered; anything else, a time limit passed (`timeoutMs`, the hook's process group is then
 * killed) or a hook that cannot start is a failure, retried and dead-lettered like a webhook's.
 */
import { spawn } from 'node:child_process';
import type { DeliveryTarget, SendResult } from './delivery-target.js';
import { hookKey } from './delivery-target.js';
import { redactUrl } from './redact.js';
import type { StoredMatch } from './store.js';
import { matchKey } from './webhook-body.js';

/** Most bytes of a hook's stderr kept for the delivery's last error. */
const STDERR_KEPT = 512;

function iso(epochSeconds: number | null): string {
  return epochSeconds === null ? '' : new Date(epochSeconds * 1000).toISOString();
}

/** The environment variables a hook gets for a match (interface.md). Values hold no NUL. */
export function hookEnv(m: StoredMatch): Record<string, string> {
  const env: Record<string, string> = {
    EVENT: 'match',
    WATCH_ITEM: m.rule,
    DNS_NAMES: m.dnsNames,
    MATCHED_NAME: m.domain,
    LOG_URI: /^[a-z][a-z0-9+.-]*:\/\//i.test(m.log) ? m.log : `https://${m.log}/`,
    ENTRY_INDEX: String(m.certIndex),
    CERT_SHA256: m.certSha256,
    SUBJECT: m.subject,
    ISSUER: m.issuer,
    SERIAL: m.serial,
    NOT_BEFORE: iso(m.notBefore),
    NOT_AFTER: iso(m.notAfter),
    UPDATE_TYPE: m.updateType,
    MATCH_ID: matchKey(m),
  };
  for (const k of Object.keys(env)) env[k] = env[k].replace(/\0/g, '\ufffd');
  return env;
}

export class HookTarget implements DeliveryTarget {
  readonly key: string;
  readonly label: string;
  readonly kind = 'hook';

  /**
   * @param path absolute path of the executable (checked by the caller)
   * @param timeoutMs time limit of one run
   */
  constructor(
    private readonly path: string,
    private readonly timeoutMs: number,
  ) {
    this.key = hookKey(path);
    this.label = redactUrl(path);
  }

  send(match: StoredMatch, signal: AbortSignal): Promise<SendResult> {
    return new Promise((resolve) => {
      let stderr = '';
      let settled = false;
      let why: string | undefined;
      const finish = (r: SendResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onStop);
        resolve(r);
      };
      // Its own process group, so that what the hook started goes with it on a time-out or a stop.
      const child = spawn(this.path, [], {
        env: { ...process.env, ...hookEnv(match) }, stdio: ['ignore', 'ignore', 'pipe'], shell: false, detached: true,
      });
      const kill = () => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      };
      const onStop = () => {
        why = 'stopping';
        kill();
      };
      const timer = setTimeout(() => {
        why = `still running after ${this.timeoutMs} ms (killed)`;
        kill();
      }, this.timeoutMs);
      if (signal.aborted) onStop();
      else signal.addEventListener('abort', onStop, { once: true });
      child.stderr!.on('data', (d: Buffer) => {
        if (stderr.length < STDERR_KEPT) stderr += d.toString('utf8');
      });
      child.once('error', (err) => finish({ ok: false, permanent: false, error: `cannot run hook: ${err.message}` }));
      child.once('close', (code, sig) => {
        if (code === 0 && why === undefined) return finish({ ok: true });
        const tail = stderr.trim().slice(0, STDERR_KEPT).replace(/\s+/g, ' ');
        const status = why ?? (sig ? `killed by ${sig}` : `exit status ${code}`);
        finish({ ok: false, permanent: false, error: redactUrl(tail === '' ? status : `${status}: ${tail}`) });
      });
    });
  }
}
