/**
 * The label-suffix part of name matching: domain rules (`example.com`: that name and every subdomain)
 * and exact rules (`=example.com`), each value mapped to its owners — the rules of one watch list
 * (NameMatcher), or every rule set the server compiled (FilterIndex), so that one walk over a name's
 * label suffixes answers for all of them at once. Owners are added and removed one by one: nothing is
 * rebuilt when a rule set comes or goes.
 */

export type IndexedKind = 'domain' | 'exact';

export class NameIndex<T> {
  private readonly domains = new Map<string, T[]>();
  private readonly exact = new Map<string, T[]>();

  /** Values indexed (domain and exact). */
  get size(): number {
    return this.domains.size + this.exact.size;
  }

  add(kind: IndexedKind, value: string, owner: T): void {
    const map = kind === 'domain' ? this.domains : this.exact;
    const owners = map.get(value);
    if (owners === undefined) map.set(value, [owner]);
    else owners.push(owner);
  }

  /** Removes one registration of `owner` for the value (a no-op when there is none). */
  remove(kind: IndexedKind, value: string, owner: T): void {
    const map = kind === 'domain' ? this.domains : this.exact;
    const owners = map.get(value);
    if (owners === undefined) return;
    const at = owners.indexOf(owner);
    if (at < 0) return;
    if (owners.length === 1) map.delete(value);
    else owners.splice(at, 1);
  }

  /**
   * Calls `hit` for the owner of every exact value equal to the normalised `name` and of every domain
   * value that is the name or one of its parent domains (`a.b.example.com`, `b.example.com`,
   * `example.com`, `com`: one Map lookup each). Stops early and returns true when `hit` returns true.
   */
  lookup(name: string, hit: (owner: T) => boolean | void): boolean {
    if (this.exact.size > 0) {
      const e = this.exact.get(name);
      if (e !== undefined) for (const o of e) if (hit(o) === true) return true;
    }
    if (this.domains.size === 0) return false;
    let at = 0;
    for (;;) {
      const d = this.domains.get(at === 0 ? name : name.slice(at));
      if (d !== undefined) for (const o of d) if (hit(o) === true) return true;
      const dot = name.indexOf('.', at);
      if (dot < 0) return false;
      at = dot + 1;
    }
  }
}
