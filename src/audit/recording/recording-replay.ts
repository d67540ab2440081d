/**
 * `certaudit compare` on two recordings: both files are streamed line by line (a day-long recording
 * never sits in memory), merged by time, and fed to the same Comparator with the same judgement
 * cadence as a live run (every second of recorded time, cutoff = time − grace), and the window is
 * judged in full at its end like a live --duration run, so the report is the one the live comparison
 * would have printed.
 *
 * The window is where both recordings overlap: from the later `start` to the earlier `end` (or last
 * line, for a recording cut short by a crash). Connection events before the window still count, so a
 * feed that was connected when the window opened is up; entries outside the window are ignored.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { CertstreamError } from '../../errors.js';
import { Comparator, type FeedId } from '../compare/comparator.js';
import { decodeEvent, type FeedEvent } from '../feeds/feed-event.js';
import { applyFeedEvent } from '../compare/live-compare.js';
import { buildReport, type AuditReport } from '../compare/report.js';

/** The first and last event of a recording and its feed URL. */
export interface RecordingBounds {
  feed: string;
  startMs: number;
  endMs: number;
}

/**
 * Reads the `start` line and the last complete line of a recording.
 * @throws CertstreamError AUDIT_ERR_BAD_RECORDING when it is empty or does not begin with `start`
 */
export async function recordingBounds(path: string): Promise<RecordingBounds> {
  let fh;
  try {
    // A directory opens fine on Linux and fails only on read (EISDIR), and a FIFO would block: check first.
    if (!(await stat(path)).isFile()) throw new CertstreamError('AUDIT_ERR_BAD_RECORDING', `${path} is not a recording file (a directory or a device?)`);
    fh = await open(path, 'r');
  } catch (err) {
    if (err instanceof CertstreamError) throw err;
    throw new CertstreamError('AUDIT_ERR_BAD_RECORDING', `cannot read recording ${path}`, { cause: err });
  }
  try {
    const { size } = await fh.stat();
    const headLen = Math.min(size, 64 * 1024);
    const head = Buffer.alloc(headLen);
    await fh.read(head, 0, headLen, 0);
    const firstLine = head.toString('utf8').split('\n')[0];
    const first = decodeEvent(firstLine, `${path}:1`);
    if (first.ev !== 'start') throw new CertstreamError('AUDIT_ERR_BAD_RECORDING', `${path}:1: not a certaudit recording (no start line)`);
    const tailLen = Math.min(size, 64 * 1024);
    const tail = Buffer.alloc(tailLen);
    await fh.read(tail, 0, tailLen, size - tailLen);
    const lines = tail.toString('utf8').split('\n');
    let endMs = first.t;
    // The last line may be cut short by a crash: take the last one that parses.
    for (let i = lines.length - 1; i >= 0; i--) {
      if (lines[i] === '') continue;
      try {
        endMs = decodeEvent(lines[i], path).t;
        break;
      } catch {
        continue;
      }
    }
    return { feed: first.feed, startMs: first.t, endMs };
  } finally {
    await fh.close();
  }
}

/** Streams a recording's events; a truncated last line (crash) is skipped, any other bad line throws. */
async function* readEvents(path: string): AsyncGenerator<FeedEvent> {
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  let pending: { line: string; n: number } | undefined;
  try {
    for await (const line of rl) {
      n++;
      if (pending) yield decodeEvent(pending.line, `${path}:${pending.n}`);
      pending = line === '' ? undefined : { line, n };
    }
  } catch (err) {
    if (err instanceof CertstreamError) throw err;
    throw new CertstreamError('AUDIT_ERR_BAD_RECORDING', `cannot read recording ${path} (line ${n + 1})`, { cause: err });
  }
  if (pending) {
    try {
      yield decodeEvent(pending.line, `${path}:${pending.n}`);
    } catch {
      // The last line of a recording written during a crash may be incomplete.
    }
  }
}

/**
 * Compares two recordings.
 * @param graceMs the `--grace` of the comparison, in ms
 * @param judgeIntervalMs cadence of judgements in recorded time (default 1_000, as live)
 */
export async function compareRecordings(pathA: string, pathB: string, graceMs: number, judgeIntervalMs = 1_000): Promise<{ report: AuditReport; comparator: Comparator }> {
  const [ba, bb] = await Promise.all([recordingBounds(pathA), recordingBounds(pathB)]);
  const start = Math.max(ba.startMs, bb.startMs);
  const end = Math.max(start, Math.min(ba.endMs, bb.endMs));
  // A recording of the ct feed is the reference, as it would have been live.
  const isCt = (b: RecordingBounds) => b.feed === 'ct' || b.feed.startsWith('ct (');
  const reference: FeedId | undefined = isCt(ba) ? 'a' : isCt(bb) ? 'b' : undefined;
  const cmp = new Comparator(reference ? { reference } : {});
  const its: Record<FeedId, AsyncGenerator<FeedEvent>> = { a: readEvents(pathA), b: readEvents(pathB) };
  const heads: Record<FeedId, FeedEvent | undefined> = { a: undefined, b: undefined };
  const pull = async (id: FeedId): Promise<FeedEvent | undefined> => {
    const r = await its[id].next();
    return r.done ? undefined : r.value;
  };
  heads.a = await pull('a');
  heads.b = await pull('b');
  let nextJudge = start + judgeIntervalMs;
  // As a live --duration run: at the window's end each log's highest index fixes what is judged;
  // what a longer recording holds up to `graceMs` past the end still counts as late deliveries.
  let limits: Map<string, number> | undefined;
  for (;;) {
    const ea = heads.a;
    const eb = heads.b;
    if (!ea && !eb) break;
    // Ties go to feed a, as they would in a live run where both sockets are read in turn.
    const id: FeedId = !eb || (ea && ea.t <= eb.t) ? 'a' : 'b';
    const e = heads[id] as FeedEvent;
    heads[id] = await pull(id);
    if (e.t > end) {
      limits ??= cmp.windowLimits();
      if (e.t > end + graceMs || cmp.pastWindow(limits)) break;
      if (e.ev === 'entry' || e.ev === 'range') applyFeedEvent(cmp, id, e);
      continue;
    }
    while (e.t >= nextJudge && nextJudge <= end) {
      cmp.judge(nextJudge - graceMs);
      nextJudge += judgeIntervalMs;
    }
    const isConnection = e.ev === 'connect' || e.ev === 'disconnect';
    if (e.t < start && !isConnection) continue;
    applyFeedEvent(cmp, id, e);
  }
  cmp.judgeWindow(limits ?? cmp.windowLimits(), end - graceMs);
  return { report: buildReport(cmp, { a: ba.feed, b: bb.feed }, start, end), comparator: cmp };
}
