/**
 * npm run bench:idle — the daemon's memory at rest: the built server (dist/) follows a quiet set of
 * logs (the fake CT log in this process: 3 RFC 6962 + 3 static-ct-api logs growing by --rate entries/s
 * in total) with no client connected, at the default poll interval. Its RSS (from /proc) is sampled
 * every 10 s for --minutes; reported: RSS at start, at 5 minutes, at the end, and the change over the
 * last minute (the goal: at most 80 MB after 5 minutes idle, flat over the last minute).
 *   npm run build && tsx bench/idle.ts [--minutes 6] [--rate 20]
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeCtLog } from '../fake-ct-log/fake-ct-log.js';
import { startDaemon } from './support/daemon.js';
import { rssMb } from './support/proc-stats.js';

const USAGE = 'usage: tsx bench/idle.ts [--minutes M (>= 2)] [--rate ENTRIES_PER_SECOND]';

function options(): { minutes: number; rate: number } {
  try {
    const { values } = parseArgs({ options: { minutes: { type: 'string', default: '6' }, rate: { type: 'string', default: '20' } }, strict: true });
    const minutes = Number(values.minutes);
    const rate = Number(values.rate);
    if (!(minutes >= 2) || !(rate >= 0)) throw new Error('--minutes must be >= 2 and --rate >= 0');
    return { minutes, rate };
  } catch (err) {
    process.stderr.write(`bench:idle: ${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const { minutes, rate } = options();
  const fake = await FakeCtLog.start({ rfc6962Logs: 3, staticLogs: 3, initialSize: 1000 });
  const daemon = await startDaemon('idle', ['--log-list', fake.logListUrl], true);
  fake.grow(rate);
  const samples: { t: number; rss: number }[] = [];
  const started = Date.now();
  try {
    for (;;) {
      const t = (Date.now() - started) / 1000;
      samples.push({ t, rss: rssMb(daemon.pid) });
      process.stderr.write(`  ${t.toFixed(0).padStart(4)} s  RSS ${samples.at(-1)!.rss.toFixed(1)} MB\n`);
      if (t >= minutes * 60) break;
      await sleep(10_000);
    }
  } finally {
    fake.grow(0);
    await daemon.stop();
    await fake.close();
  }
  const at = (s: number) => samples.reduce((best, x) => (Math.abs(x.t - s) < Math.abs(best.t - s) ? x : best)).rss;
  const end = samples.at(-1)!;
  const lastMinute = end.rss - at(end.t - 60);
  console.log(`bench:idle on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
  console.log(`6 fake logs growing by ${rate} entries/s in total, default poll interval, no client, ${minutes} min`);
  console.log(`RSS: ${at(0).toFixed(1)} MB at start, ${at(300).toFixed(1)} MB at 5 min, ${end.rss.toFixed(1)} MB at the end; last minute ${lastMinute >= 0 ? '+' : ''}${lastMinute.toFixed(1)} MB`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:idle: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
