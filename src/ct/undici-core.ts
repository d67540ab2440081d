/**
 * The three parts of undici the log client runs (Agent, its request API, DecoratorHandler), loaded
 * without undici's index: the index loads every feature it has (fetch, WebSocket, EventSource, caches,
 * mocks, proxies, retries): 4–5 MB more V8 heap in use at rest (README "Performance › Memory at
 * rest") for code the daemon never runs. undici 7 has no `exports` map, so its files can be
 * required by path; the paths are pinned by the lockfile and checked by test/ct/undici-core.test.ts.
 * The types are undici's own.
 */
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import type { Agent as AgentClass, DecoratorHandler as DecoratorClass, Dispatcher } from 'undici';

const requireUndici = createRequire(import.meta.url);

/**
 * undici parses HTTP/1.1 with llhttp compiled to WebAssembly, at the first connection. V8 compiles it
 * with Liftoff (its baseline wasm compiler), then, once it is hot, recompiles it with TurboFan in the
 * background: for llhttp's large state-machine function that takes ~35 MB of malloc'd compiler memory
 * at once (V8's peak malloc'd memory: 36 MB against 2 MB without), and whatever glibc cannot give back
 * stays resident: ~9 MB in a process that made 50 requests, ~5 MB at rest in the daemon without the
 * unit's MALLOC_ARENA_MAX=1 (README "Performance › Memory at rest"). The daemon parses a few headers per
 * CT response: wasm stays on Liftoff. A V8 flag for the whole process, set before any connection
 * compiles llhttp; the process runs no other WebAssembly.
 */
setFlagsFromString('--liftoff-only');

export const Agent = requireUndici('undici/lib/dispatcher/agent.js') as typeof AgentClass;
export type Agent = AgentClass;
export const DecoratorHandler = requireUndici('undici/lib/handler/decorator-handler.js') as typeof DecoratorClass;

type RequestApi = (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
const requestApi = requireUndici('undici/lib/api/api-request.js') as RequestApi;

/**
 * undici's `request(url, { dispatcher, ... })` for an absolute URL string: the origin and the path
 * (with its query) split from `url` as undici's index does, then the same request handler.
 */
export function request(
  dispatcher: Dispatcher,
  url: string,
  options: Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & { method: Dispatcher.HttpMethod },
): Promise<Dispatcher.ResponseData> {
  const parsed = new URL(url);
  return requestApi.call(dispatcher, { ...options, origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` });
}
