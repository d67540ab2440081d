/**
 * Secrets out of logs, metrics and error messages (interface.md: "a URL's user-info and its query
 * string are shown as `***`"). Webhook URLs carry tokens (Slack, Teams) in their path's query or
 * user-info, database URLs carry passwords. Pure; works on text that is not a parseable URL too
 * (`postgres://user:pw@/db` has no host and WHATWG URL refuses it, which is exactly when a message
 * used to print it whole).
 */

const USER_INFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@'"]*@/gi;
const QUERY = /\b([a-z][a-z0-9+.-]*:\/\/[^\s?#'"]*)\?[^\s#'"]*/gi;

/** A URL (or any text holding URLs) with each user-info and query string replaced by `***`. */
export function redactUrl(text: string): string {
  return text.replace(USER_INFO, '$1***@').replace(QUERY, '$1?***');
}
