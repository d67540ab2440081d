/**
 * The three parts of undici the log client runs (Agent, its request API, DecoratorHandler), loaded
 * without undici's index: the index loads every feature it has (fetch, WebSocket, EventSource, caches,
 * mocks, proxies, retries): 4–5 MB more V8 heap in use at rest (README "Performance › Memory at
 * rest") for code the daemon never runs. undici 7 has no `exports` map, so its files can be
 * required by path; the paths are pinned by the lockfile and checked by test/ct/undici-core.test.ts.
 * The types are undici's own.
 */
import { createRequire } from 'node:module';
import type { Agent as AgentClass, DecoratorHandler as DecoratorClass, Dispatcher } from 'undici';

const requireUndici = createRequire(import.meta.url);

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
