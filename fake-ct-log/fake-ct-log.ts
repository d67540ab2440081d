/**
 * A fake CT log server for tests, benchmarks and `npm run demo`: real HTTP on loopback, real protocols,
 * real data (fake-ct-log/corpus.ts) plus synthesised certificates. It serves any number of RFC 6962 logs (get-sth, get-entries with a
 * per-response cap like Google's 32) and static-ct-api logs (checkpoint, gzip data tiles, partial tiles,
 * issuers), plus a v3 log list naming them all. Logs grow on demand (`append`) or at a rate (`grow`),
 * and faults (HTTP errors, 429 with Retry-After, hanging responses) can be injected per log.
 * Heads are real: each log has its own ECDSA P-256 key (fresh per run, published in the log list as
 * `key` and `log_id`), its STHs and checkpoints are signed with it, and their roots are the RFC 6962
 * Merkle tree hashes of the entries it serves (fake-tree.ts).
 */
import { createHash, type Hash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { parseTileLeavesWithSpans } from '../src/ct/tile-leaf.js';
import { rfc6962LeafHash } from '../src/verify/leaf-hash.js';
import type { TreeHead } from '../src/verify/tree-head.js';
import { loadCorpus, type Corpus } from './corpus.js';
import { FakeSigner } from './fake-signer.js';
import { FakeTree } from './fake-tree.js';

/** Settings of a FakeCtLog. */
export interface FakeCtLogOptions {
  /** Number of RFC 6962 logs (default 1). */
  rfc6962Logs?: number;
  /** Number of static-ct-api logs (default 1). */
  staticLogs?: number;
  /** Entries per log at start (default 1000). */
  initialSize?: number;
  /** Largest get-entries response (default 32, as Google's logs). */
  maxGetEntries?: number;
  host?: string;
  port?: number;
}

/**
 * A fault served instead of the next matching responses of one log. `only`, when given, limits it to
 * requests whose path (below the log's prefix) contains that text, e.g. `get-entries` or `issuer/`.
 */
export type Fault = (
  | { status: number; times?: number; retryAfter?: string; body?: string }
  | { hang: true; times?: number }
  /** Answers normally, but only after `delayMs` (a slow log). */
  | { delayMs: number; times?: number }
) & { only?: string };

/**
 * A way a fake log lies (issue 21 §5), to test that verification catches it:
 * - `alter-entry`: serves entry `index` with its timestamp changed by 1 ms (it still decodes; the signed
 *   roots stay those of the honest entries, so a verifier sees a root mismatch);
 * - `bad-signature`: heads whose signature has one bit flipped;
 * - `fork`: heads with the right size and another root, correctly signed (a split view);
 * - `shrink`: a correctly signed head of `size` entries (its real root) while the log is larger.
 */
export type Misbehaviour =
  | { kind: 'alter-entry'; index: number }
  | { kind: 'bad-signature' }
  | { kind: 'fork' }
  | { kind: 'shrink'; size: number };

/** One fake log as clients see it. */
export interface FakeLogInfo {
  /** `data.source.url` of its entries: the list's `url` (RFC 6962) or `monitoring_url` (static). */
  url: string;
  name: string;
  kind: 'rfc6962' | 'static';
}

interface LogState extends FakeLogInfo {
  path: string;
  submissionUrl: string;
  size: number;
  /** When set, the checkpoint / STH claims this size instead of the real one (a lagging head). */
  headSize: number | undefined;
  /** Append batches, for availableAt: entries [from, to) appeared at `at` (ms epoch). */
  batches: { from: number; to: number; at: number }[];
  faults: (Fault & { times: number })[];
  signer: FakeSigner;
  tree: FakeTree;
  /** Entries served altered (alter-entry). */
  altered: Set<number>;
  badSignature: boolean;
  fork: boolean;
  shrinkTo: number | undefined;
}

/** Requests served, by kind (tests assert on fetch behaviour with these). */
export interface FakeCtLogRequests {
  sth: number;
  entries: number;
  /** get-entry-and-proof requests (a follower proving the range before its cursor). */
  entryAndProof: number;
  /** Hash tile requests (a static-ct-api follower proving the range before its cursor). */
  hashTiles: number;
  checkpoint: number;
  fullTiles: number;
  partialTiles: number;
  issuers: number;
  logList: number;
  /** User-Agent of the last request. */
  lastUserAgent: string | undefined;
  /** Paths of every tile request, in order. */
  tilePaths: string[];
}

export class FakeCtLog {
  readonly baseUrl: string;
  readonly logListUrl: string;
  readonly requests: FakeCtLogRequests = {
    sth: 0, entries: 0, entryAndProof: 0, hashTiles: 0, checkpoint: 0, fullTiles: 0, partialTiles: 0, issuers: 0, logList: 0,
    lastUserAgent: undefined, tilePaths: [],
  };
  private readonly byPath = new Map<string, LogState>();
  private readonly states: LogState[];
  private growTimer: NodeJS.Timeout | undefined;
  private growCarry = 0;
  private growNext = 0;
  private readonly sockets = new Set<Socket>();
  private readonly listeners = new Set<() => void>();
  private readonly arrivals = new Set<(path: string) => void>();
  /** Extra log list entries (tests add logs in odd states, or remove some, to exercise refresh). */
  logListOverride: ((list: Record<string, unknown>) => Record<string, unknown>) | undefined;

  private constructor(
    private readonly server: Server,
    private readonly corpus: Corpus,
    private readonly options: Required<Pick<FakeCtLogOptions, 'maxGetEntries'>>,
    initialSize: number,
    rfcCount: number,
    staticCount: number,
  ) {
    const { port } = server.address() as AddressInfo;
    const host = (server.address() as AddressInfo).address;
    this.baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
    this.logListUrl = `${this.baseUrl}log_list.json`;
    const now = Date.now();
    const leafHash = leafHashers(corpus);
    const make = (kind: 'rfc6962' | 'static', i: number): LogState => {
      const path = `${kind}/${i}/`;
      return {
        signer: new FakeSigner(),
        tree: new FakeTree(leafHash[kind]),
        kind,
        path,
        url: `${this.baseUrl}${path}`,
        name: `Fake ${kind === 'rfc6962' ? 'RFC 6962' : 'static-ct-api'} log ${i}`,
        submissionUrl: `${this.baseUrl}submit/${path}`,
        size: initialSize,
        headSize: undefined,
        altered: new Set(),
        badSignature: false,
        fork: false,
        shrinkTo: undefined,
        batches: initialSize > 0 ? [{ from: 0, to: initialSize, at: now }] : [],
        faults: [],
      };
    };
    this.states = [
      ...Array.from({ length: rfcCount }, (_, i) => make('rfc6962', i)),
      ...Array.from({ length: staticCount }, (_, i) => make('static', i)),
    ];
    for (const s of this.states) this.byPath.set(s.path, s);
  }

  /** Starts listening (default 127.0.0.1, a free port). */
  static async start(options: FakeCtLogOptions = {}): Promise<FakeCtLog> {
    const corpus = await loadCorpus();
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
    });
    const fake = new FakeCtLog(
      server,
      corpus,
      { maxGetEntries: options.maxGetEntries ?? 32 },
      options.initialSize ?? 1000,
      options.rfc6962Logs ?? 1,
      options.staticLogs ?? 1,
    );
    server.on('request', (req, res) => fake.handle(req, res));
    server.on('connection', (s) => {
      fake.sockets.add(s);
      s.on('close', () => fake.sockets.delete(s));
    });
    return fake;
  }

  /** The fake logs, RFC 6962 first. */
  get logs(): readonly FakeLogInfo[] {
    return this.states.map(({ url, name, kind }) => ({ url, name, kind }));
  }

  /** Current tree size of a log. */
  size(logUrl: string): number {
    return this.state(logUrl).size;
  }

  /** Appends `count` entries to one log, or to every log when `logUrl` is omitted. */
  append(count: number, logUrl?: string): void {
    const at = Date.now();
    for (const s of logUrl === undefined ? this.states : [this.state(logUrl)]) {
      if (count <= 0) continue;
      s.batches.push({ from: s.size, to: s.size + count, at });
      s.size += count;
    }
  }

  /** Grows the logs continuously by `entriesPerSecond` in total, round-robin over the logs; 0 stops. */
  grow(entriesPerSecond: number): void {
    if (this.growTimer) clearInterval(this.growTimer);
    this.growTimer = undefined;
    if (entriesPerSecond <= 0 || this.states.length === 0) return;
    const tickMs = 50;
    this.growTimer = setInterval(() => {
      this.growCarry += (entriesPerSecond * tickMs) / 1000;
      const n = Math.floor(this.growCarry);
      this.growCarry -= n;
      const per = new Map<LogState, number>();
      for (let i = 0; i < n; i++) {
        const s = this.states[this.growNext++ % this.states.length];
        per.set(s, (per.get(s) ?? 0) + 1);
      }
      for (const [s, k] of per) this.append(k, s.url);
    }, tickMs);
  }

  /** When an entry became available (ms epoch), or undefined when it does not exist. */
  availableAt(logUrl: string, index: number): number | undefined {
    const b = this.state(logUrl).batches;
    let lo = 0;
    let hi = b.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (index < b[mid].from) hi = mid - 1;
      else if (index >= b[mid].to) lo = mid + 1;
      else return b[mid].at;
    }
    return undefined;
  }

  /**
   * Calls `listener` after every response is sent (tests wait on requests with it instead of sleeping).
   * @returns a function that removes the listener.
   */
  onRequest(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Calls `listener` with the path of every request as it arrives, before any fault or answer (tests wait
   * on requests that hang or are delayed with it).
   * @returns a function that removes the listener.
   */
  onArrival(listener: (path: string) => void): () => void {
    this.arrivals.add(listener);
    return () => this.arrivals.delete(listener);
  }

  /** Makes the log's head (STH / checkpoint) claim `size` while its entries follow the real size; undefined ends it. */
  pinHead(logUrl: string, size: number | undefined): void {
    this.state(logUrl).headSize = size;
  }

  /** Makes a log lie in one more way (see Misbehaviour) until `behave` is called. */
  misbehave(logUrl: string, m: Misbehaviour): void {
    const s = this.state(logUrl);
    if (m.kind === 'alter-entry') s.altered.add(m.index);
    else if (m.kind === 'bad-signature') s.badSignature = true;
    else if (m.kind === 'fork') s.fork = true;
    else s.shrinkTo = m.size;
  }

  /** Ends every misbehaviour of a log: honest entries and heads again. */
  behave(logUrl: string): void {
    const s = this.state(logUrl);
    s.altered.clear();
    s.badSignature = false;
    s.fork = false;
    s.shrinkTo = undefined;
  }

  /** Drops every fault still queued for a log. */
  clearFaults(logUrl: string): void {
    this.state(logUrl).faults.length = 0;
  }

  /** Serves `fault` instead of the next `fault.times` (default 1) responses of a log (log list excluded). */
  injectFault(logUrl: string, fault: Fault): void {
    this.state(logUrl).faults.push({ ...fault, times: fault.times ?? 1 });
  }

  /**
   * The signed head a log serves now: its size (or the pinned one), its real root, the current time.
   * A pinned size too far ahead to compute (2^53 - 1 in the plausibility tests) gets a placeholder root.
   */
  head(logUrl: string): TreeHead {
    return this.headOf(this.state(logUrl));
  }

  /** The RFC 6962 root of a log's first `size` entries, as served (null when too far ahead to compute). */
  rootAt(logUrl: string, size: number): Buffer | null {
    return this.state(logUrl).tree.root(size);
  }

  /** The v3 log list naming every fake log. */
  logList(): Record<string, unknown> {
    const state = { usable: { timestamp: '2026-01-01T00:00:00Z' } };
    const interval = { start_inclusive: '2026-01-01T00:00:00Z', end_exclusive: '2099-01-01T00:00:00Z' };
    const id = (s: LogState) => s.signer.logId.toString('base64');
    const key = (s: LogState) => s.signer.spki.toString('base64');
    const list = {
      version: '1.0',
      log_list_timestamp: new Date().toISOString(),
      operators: [
        {
          name: 'Fake CT',
          email: ['fake@example.invalid'],
          logs: this.states
            .filter((s) => s.kind === 'rfc6962')
            .map((s) => ({ description: s.name, log_id: id(s), key: key(s), url: s.url, mmd: 86400, state, temporal_interval: interval })),
          tiled_logs: this.states
            .filter((s) => s.kind === 'static')
            .map((s) => ({
              description: s.name, log_id: id(s), key: key(s), submission_url: s.submissionUrl, monitoring_url: s.url,
              mmd: 60, state, temporal_interval: interval,
            })),
        },
      ],
    };
    return this.logListOverride ? this.logListOverride(list) : list;
  }

  /** Writes the log list to a file (for `--log-list <path>`). */
  async writeLogList(path: string): Promise<void> {
    await writeFile(path, JSON.stringify(this.logList(), null, 2));
  }

  /** Stops growing, ends hanging responses and closes the server. */
  async close(): Promise<void> {
    this.grow(0);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private headOf(log: LogState): TreeHead {
    const treeSize = log.shrinkTo ?? log.headSize ?? log.size;
    let root = log.tree.root(treeSize) ?? createHash('sha256').update(`no real root: ${log.url} ${treeSize}`).digest();
    if (log.fork) root = createHash('sha256').update('fork').update(root).digest();
    return { treeSize, timestamp: Date.now(), rootHash: root };
  }

  private state(logUrl: string): LogState {
    const s = this.states.find((x) => x.url === logUrl);
    if (!s) throw new Error(`no fake log ${logUrl}`);
    return s;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    res.once('finish', () => {
      for (const l of [...this.listeners]) l();
    });
    this.requests.lastUserAgent = req.headers['user-agent'];
    const url = new URL(req.url ?? '/', this.baseUrl);
    const path = url.pathname.slice(1);
    for (const l of [...this.arrivals]) l(path);
    if (path === 'log_list.json') {
      this.requests.logList++;
      return json(res, 200, this.logList());
    }
    const m = /^(rfc6962|static)\/(\d+)\/(.*)$/.exec(path);
    const log = m ? this.byPath.get(`${m[1]}/${m[2]}/`) : undefined;
    if (!m || !log) return text(res, 404, 'not found\n');
    const at = log.faults.findIndex((f) => f.only === undefined || m[3].includes(f.only));
    const fault = at >= 0 ? log.faults[at] : undefined;
    if (fault) {
      if (--fault.times <= 0) log.faults.splice(at, 1);
      if ('hang' in fault) return; // never answers: the client must time out
      if ('delayMs' in fault) {
        setTimeout(() => this.serve(log, m[3], req, url, res), fault.delayMs);
        return;
      }
      if (fault.retryAfter !== undefined) res.setHeader('retry-after', fault.retryAfter);
      return text(res, fault.status, fault.body ?? `injected fault ${fault.status}\n`);
    }
    this.serve(log, m[3], req, url, res);
  }

  private serve(log: LogState, rest: string, req: IncomingMessage, url: URL, res: ServerResponse): void {
    if (res.destroyed) return;
    if (log.kind === 'rfc6962') return this.rfc6962(log, rest, url, res);
    return this.staticCt(log, rest, req, res);
  }

  private rfc6962(log: LogState, rest: string, url: URL, res: ServerResponse): void {
    if (rest === 'ct/v1/get-sth') {
      this.requests.sth++;
      return json(res, 200, log.signer.sth(this.headOf(log), log.badSignature));
    }
    if (rest === 'ct/v1/get-entries') {
      this.requests.entries++;
      const start = Number(url.searchParams.get('start'));
      const end = Number(url.searchParams.get('end'));
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || start >= log.size) {
        return json(res, 400, { error_message: 'bad start/end' });
      }
      const last = Math.min(end, log.size - 1, start + this.options.maxGetEntries - 1);
      const entries = [];
      for (let i = start; i <= last; i++) {
        const item = this.corpus.rfc[i % this.corpus.rfc.length];
        if (!log.altered.has(i)) entries.push(item);
        else {
          const leaf = Buffer.from(item.leaf_input, 'base64');
          leaf[9] ^= 1; // the last byte of the MerkleTreeLeaf's uint64 timestamp
          entries.push({ ...item, leaf_input: leaf.toString('base64') });
        }
      }
      return json(res, 200, { entries });
    }
    if (rest === 'ct/v1/get-entry-and-proof') {
      this.requests.entryAndProof++;
      const index = Number(url.searchParams.get('leaf_index'));
      const size = Number(url.searchParams.get('tree_size'));
      if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size || size > log.size) {
        return json(res, 400, { error_message: 'bad leaf_index/tree_size' });
      }
      const item = this.corpus.rfc[index % this.corpus.rfc.length];
      const audit_path = log.tree.inclusionProof(index, size).map((h) => h.toString('base64'));
      return json(res, 200, { leaf_input: item.leaf_input, extra_data: item.extra_data, audit_path });
    }
    return text(res, 404, 'not found\n');
  }

  /** A level-`level` hash tile (static-ct-api): the hashes of its nodes, honest, as the tree stands at the log's size. */
  private hashTile(log: LogState, level: number, n: number, partial: string | undefined, res: ServerResponse): void {
    this.requests.hashTiles++;
    const width = partial === undefined ? 256 : Number(partial);
    const span = 256 ** level;
    const nodes = Math.floor(log.size / span) - n * 256;
    const exists = partial === undefined ? nodes >= 256 : width >= 1 && width < 256 && nodes === width;
    if (!exists) return text(res, 404, 'not found\n');
    const parts: Buffer[] = [];
    for (let k = 0; k < width; k++) parts.push(log.tree.subtree({ start: (n * 256 + k) * span, height: 8 * level }));
    const body = Buffer.concat(parts);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  }

  private staticCt(log: LogState, rest: string, req: IncomingMessage, res: ServerResponse): void {
    if (rest === 'checkpoint') {
      this.requests.checkpoint++;
      const origin = log.submissionUrl.replace(/^https?:\/\//, '').replace(/\/$/, '');
      return text(res, 200, log.signer.checkpoint(origin, this.headOf(log), log.badSignature));
    }
    const issuer = /^issuer\/([0-9a-f]{64})$/.exec(rest);
    if (issuer) {
      this.requests.issuers++;
      const der = this.corpus.issuers.get(issuer[1]);
      if (!der) return text(res, 404, 'not found\n');
      res.writeHead(200, { 'content-type': 'application/pkix-cert', 'content-length': der.length });
      return void res.end(der);
    }
    const hashTile = /^tile\/(\d{1,2})\/((?:x\d{3}\/)*\d{3})(?:\.p\/(\d{1,3}))?$/.exec(rest);
    if (hashTile) return this.hashTile(log, Number(hashTile[1]), Number(hashTile[2].replace(/x|\//g, '')), hashTile[3], res);
    const tile = /^tile\/data\/((?:x\d{3}\/)*\d{3})(?:\.p\/(\d{1,3}))?$/.exec(rest);
    if (!tile) return text(res, 404, 'not found\n');
    this.requests.tilePaths.push(rest);
    const n = Number(tile[1].replace(/x|\//g, ''));
    const width = tile[2] === undefined ? 256 : Number(tile[2]);
    if (width < 1 || width > 256 || (tile[2] !== undefined && width === 256)) return text(res, 404, 'not found\n');
    if (tile[2] === undefined) this.requests.fullTiles++;
    else this.requests.partialTiles++;
    const first = n * 256;
    // A full tile exists once the tree covers it; a partial tile only while it is the right-most one.
    const exists = tile[2] === undefined ? log.size >= first + 256 : log.size < first + 256 && log.size >= first + width;
    if (!exists) return text(res, 404, 'not found\n');
    const parts: Buffer[] = [];
    for (let i = first; i < first + width; i++) {
      const rec = this.corpus.tile[i % this.corpus.tile.length];
      const b = Buffer.from(rec.bytes);
      b.writeUIntBE(i, rec.leafIndexOffset, 5);
      if (log.altered.has(i)) b[7] ^= 1; // the last byte of the TileLeaf's uint64 timestamp
      parts.push(b);
    }
    const body = Buffer.concat(parts);
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      const gz = gzipSync(body);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip', 'content-length': gz.length });
      return void res.end(gz);
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  }
}

/**
 * The leaf hash of entry i of an RFC 6962 and of a static fake log. RFC 6962 entries repeat the corpus,
 * so their hashes are computed once; a static entry differs by its leaf_index (the last field of its
 * TimestampedEntry's extensions), so the SHA-256 state of the bytes before it is computed once and copied.
 */
function leafHashers(corpus: Corpus): Record<'rfc6962' | 'static', (i: number) => Buffer> {
  const rfc = corpus.rfc.map((e) => rfc6962LeafHash(Buffer.from(e.leaf_input, 'base64')));
  const tile = corpus.tile.map((rec): { before: Hash; after: Buffer } => {
    const end = parseTileLeavesWithSpans(rec.bytes).spans[0].end;
    const before = createHash('sha256').update(Buffer.from([0x00, 0x00, 0x00])).update(rec.bytes.subarray(0, rec.leafIndexOffset));
    return { before, after: rec.bytes.subarray(rec.leafIndexOffset + 5, end) };
  });
  const index = Buffer.alloc(5);
  return {
    rfc6962: (i) => rfc[i % rfc.length],
    static: (i) => {
      const t = tile[i % tile.length];
      index.writeUIntBE(i, 0, 5);
      return t.before.copy().update(index).update(t.after).digest();
    },
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const b = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': b.length });
  res.end(b);
}

function text(res: ServerResponse, status: number, body: string): void {
  const b = Buffer.from(body);
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': b.length });
  res.end(b);
}
