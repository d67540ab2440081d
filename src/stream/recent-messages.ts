/**
 * The most recent lite messages for `/latest.json` and `/example.json`, as CaliDog kept them: newest
 * batch first, ascending `cert_index` within a batch, at most `capacity` (25). Messages are kept as
 * their serialized JSON text, so serving them costs a string join.
 */
export class RecentMessages {
  private messages: string[] = [];

  /** @param capacity messages kept (default 25) */
  constructor(private readonly capacity = 25) {}

  /** Adds one batch (ascending order, as streamed). */
  addBatch(lite: readonly string[]): void {
    if (lite.length === 0) return;
    const head = lite.length > this.capacity ? lite.slice(lite.length - this.capacity) : lite;
    this.messages = head.concat(this.messages.slice(0, this.capacity - head.length));
  }

  /** Newest batch first. */
  list(): readonly string[] {
    return this.messages;
  }

  /** `{"messages":[...]}` as served by `/latest.json`. */
  latestJson(): string {
    return `{"messages":[${this.messages.join(',')}]}`;
  }

  /** The first message, or `null`, as served by `/example.json`. */
  exampleJson(): string {
    return this.messages[0] ?? 'null';
  }
}
