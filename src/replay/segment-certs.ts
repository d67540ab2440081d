/**
 * The chain certificates of one segment (compact-record.ts): each distinct chain element is defined once
 * per segment, in the first record that needs it, and named by a segment-local id afterwards. Keeping the
 * table per segment makes a segment self-contained: trimming whole segments never orphans a reference.
 *
 * The writer side (`intern`) finds an element's id by its text, as the renderer made it (renderer.ts,
 * FrameParts): the renderer hands out the same string object for a certificate while it is cached, so a
 * lookup costs no hashing or comparing of the element's bytes. An append interns tentatively and then
 * commits, or rolls back when its write fails (whole-or-nothing appends).
 * The reader side: `defAt` says which record defines each id (from appends, or from the scan at open);
 * elements are kept in memory while loaded and read back from their record on demand after `unload`.
 */
import type { CertDef } from './compact-record.js';

export class SegmentCerts {
  /** Element bytes by id, for the ids in memory. */
  private readonly loaded = new Map<number, Buffer>();
  /** File offset of the record that defines each id. */
  private readonly defAt = new Map<number, number>();
  /** Writer: id by element text. */
  private readonly byText = new Map<string, number>();
  private nextId = 0;
  /** Ids interned by the append under way (undone by rollback). */
  private pending: { id: number; text: string }[] = [];

  /** The element of `id` if it is in memory. */
  get(id: number): Buffer | undefined {
    return this.loaded.get(id);
  }

  /** The offset of the record defining `id`, or undefined when no whole record does. */
  definedAt(id: number): number | undefined {
    return this.defAt.get(id);
  }

  /** Elements in memory (for the memory bound). */
  get loadedCount(): number {
    return this.loaded.size;
  }

  /** A definition seen by the scan at open (the first one of an id wins; a later one is damage). */
  noteDef(id: number, recordOffset: number): void {
    if (!this.defAt.has(id)) this.defAt.set(id, recordOffset);
    if (id >= this.nextId) this.nextId = id + 1;
  }

  /** Every id's defining record offset (for the segment's index). */
  definitions(): [number, number][] {
    return [...this.defAt];
  }

  /** Puts an element read back from its (CRC-checked) defining record into memory. */
  put(id: number, bytes: Buffer): void {
    this.loaded.set(id, bytes);
  }

  /** Drops the elements from memory (they are read back from disk when needed). */
  unload(): void {
    this.loaded.clear();
  }

  /**
   * The ids of an entry's chain elements (their JSON text, in order), and the definitions its record
   * must carry for those the segment does not have yet.
   * @param recordOffset where the record will be written in the segment file
   */
  intern(elements: readonly string[], recordOffset: number): { chain: number[]; defs: CertDef[] } {
    const chain: number[] = [];
    const defs: CertDef[] = [];
    for (const text of elements) {
      const known = this.byText.get(text);
      if (known !== undefined) {
        chain.push(known);
        continue;
      }
      const id = this.nextId++;
      const bytes = Buffer.from(text, 'utf8');
      this.pending.push({ id, text });
      this.byText.set(text, id);
      this.loaded.set(id, bytes);
      this.defAt.set(id, recordOffset);
      defs.push({ id, bytes });
      chain.push(id);
    }
    return { chain, defs };
  }

  /** The segment is sealed (no more appends): the writer's texts are not kept as long as the segment. */
  seal(): void {
    this.byText.clear();
  }

  /** The append's interned ids are on disk. */
  commit(): void {
    this.pending = [];
  }

  /** The append failed: forget the ids it interned. */
  rollback(): void {
    for (let k = this.pending.length - 1; k >= 0; k--) {
      const p = this.pending[k];
      this.loaded.delete(p.id);
      this.defAt.delete(p.id);
      this.byText.delete(p.text);
      this.nextId = Math.min(this.nextId, p.id);
    }
    this.pending = [];
  }
}
