/**
 * A cursor over big-endian TLS presentation-language bytes (RFC 5246 §4), the encoding of
 * MerkleTreeLeaf, certificate chains and static-ct-api TileLeaf records. Reading past the end throws a
 * RangeError; the decoders turn it into their own typed error with the entry's context.
 */
export class TlsReader {
  private pos = 0;

  constructor(private readonly buf: Uint8Array) {}

  /** Bytes not read yet. */
  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** Current offset from the start of the buffer. */
  get offset(): number {
    return this.pos;
  }

  private need(n: number): void {
    if (this.buf.length - this.pos < n) {
      throw new RangeError(`need ${n} bytes at offset ${this.pos}, only ${this.buf.length - this.pos} left`);
    }
  }

  /** Reads an unsigned big-endian integer of `n` bytes (n ≤ 6, so the value is an exact JS number). */
  uint(n: number): number {
    this.need(n);
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + this.buf[this.pos + i];
    this.pos += n;
    return v;
  }

  /** A uint64 as a number; exact below 2^53, which covers CT timestamps (ms) and tree sizes. */
  uint64(): number {
    const hi = this.uint(4);
    const lo = this.uint(4);
    return hi * 0x1_0000_0000 + lo;
  }

  /** The next `n` bytes as a view into the same buffer (no copy). */
  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A vector whose length prefix is `prefixBytes` long (1, 2 or 3 in CT structures). */
  vector(prefixBytes: number): Uint8Array {
    return this.bytes(this.uint(prefixBytes));
  }

  /** Throws unless every byte was consumed (trailing garbage means a bad encoding). */
  end(): void {
    if (this.pos !== this.buf.length) throw new RangeError(`${this.buf.length - this.pos} trailing bytes`);
  }
}

/** Splits a `ASN.1Cert certificate_chain<0..2^24-1>` body (each element: uint24 length + DER). */
export function readCertList(body: Uint8Array): Uint8Array[] {
  const r = new TlsReader(body);
  const out: Uint8Array[] = [];
  while (r.remaining > 0) {
    const der = r.vector(3);
    if (der.length === 0) throw new RangeError('empty certificate in chain');
    out.push(der);
  }
  return out;
}
