/**
 * The whole-request deadline of a log request, started when the request is dispatched on a connection,
 * not when it is queued for one: waiting for a free socket must not count against a request that has not
 * been sent. An undici interceptor: its handler starts a timer in onRequestStart (the request has its
 * connection) and aborts the request with a RequestDeadlineError when headers and body have not both
 * arrived within `ms`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { DecoratorHandler } from './undici-core.js';

/** The request's failure when it overran its deadline after it was sent. */
export class RequestDeadlineError extends Error {
  readonly code = 'CT_REQUEST_DEADLINE';
  constructor(ms: number) {
    super(`request deadline of ${ms} ms passed`);
  }
}

type Controller = Dispatcher.DispatchController;

// undici's DecoratorHandler implements the handler API of undici 7 (and wraps older handlers), but its
// type declarations still list only the old methods.
const Decorator = DecoratorHandler as unknown as new (handler: Dispatcher.DispatchHandler) => {
  onRequestStart(controller: Controller, context: unknown): void;
  onResponseEnd(controller: Controller, trailers: IncomingHttpHeaders): void;
  onResponseError(controller: Controller, err: Error): void;
};

class DeadlineHandler extends Decorator {
  private timer: NodeJS.Timeout | undefined;

  constructor(handler: Dispatcher.DispatchHandler, private readonly ms: number) {
    super(handler);
  }

  override onRequestStart(controller: Controller, context: unknown): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => controller.abort(new RequestDeadlineError(this.ms)), this.ms);
    super.onRequestStart(controller, context);
  }

  override onResponseEnd(controller: Controller, trailers: IncomingHttpHeaders): void {
    clearTimeout(this.timer);
    super.onResponseEnd(controller, trailers);
  }

  override onResponseError(controller: Controller, err: Error): void {
    clearTimeout(this.timer);
    super.onResponseError(controller, err);
  }
}

/** An interceptor that gives every request `ms` from its dispatch on a connection to the end of its body. */
export function requestDeadline(ms: number): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => dispatch(opts, new DeadlineHandler(handler, ms) as Dispatcher.DispatchHandler);
}
