/**
 * Parquet's RLE / bit-packed hybrid encoding of repetition and definition levels (bit width 1 or 2 in
 * segments, so every run value is one byte), and of dictionary indices (read only: older segments
 * dictionary-encode `op`).
 *
 * The writer emits RLE runs only and merges equal neighbours, so an all-valid column is one run and a
 * vector row costs two runs of repetition levels whatever its dims. The reader yields runs, expanding a
 * bit-packed group into runs of single values, so a consumer checks a whole run at once.
 */

/** Accumulates RLE runs; `bytes()` is the encoded data without the 4-byte length prefix of a v1 page. */
export class LevelWriter {
  private out = new Uint8Array(64);
  private pos = 0;
  private value = -1;
  private count = 0;

  run(value: number, count: number): void {
    if (count <= 0) return;
    if (value === this.value) {
      this.count += count;
      return;
    }
    this.flush();
    this.value = value;
    this.count = count;
  }

  private flush(): void {
    if (this.count === 0) return;
    if (this.pos + 12 > this.out.length) {
      const next = new Uint8Array(this.out.length * 2);
      next.set(this.out);
      this.out = next;
    }
    // Run header: varint(count << 1), the low bit 0 marking an RLE run; then the value in one byte.
    let h = this.count * 2;
    while (h >= 0x80) {
      this.out[this.pos++] = (h % 0x80) | 0x80;
      h = Math.floor(h / 0x80);
    }
    this.out[this.pos++] = h;
    this.out[this.pos++] = this.value;
    this.count = 0;
  }

  /** The levels block of a v1 data page: 4-byte little-endian length, then the runs. */
  block(): Uint8Array {
    this.flush();
    const b = new Uint8Array(4 + this.pos);
    new DataView(b.buffer).setUint32(0, this.pos, true);
    b.set(this.out.subarray(0, this.pos), 4);
    return b;
  }
}

export class LevelError extends Error {}

/**
 * Reads runs of an RLE / bit-packed hybrid stream of `total` levels. `next()` moves to the next run
 * (false at the end of the levels); `value` and `count` describe it; `take(k)` consumes part of it.
 */
export class LevelReader {
  value = 0;
  count = 0;
  private pos: number;
  private remaining: number;
  private packed: number[] = [];
  private packedAt = 0;
  private readonly mask: number;

  constructor(
    private readonly bytes: Uint8Array,
    start: number,
    private readonly end: number,
    private readonly width: number,
    total: number,
  ) {
    if (width < 1 || width > 30) throw new LevelError(`levels: bit width ${width} out of range`);
    this.pos = start;
    this.remaining = total;
    this.mask = 2 ** width - 1;
  }

  private byte(): number {
    if (this.pos >= this.end) throw new LevelError('levels: unexpected end of data');
    return this.bytes[this.pos++] as number;
  }

  /** Loads the next run into value/count. False when all `total` levels were read. */
  next(): boolean {
    if (this.packedAt < this.packed.length) {
      const v = this.packed[this.packedAt++] as number;
      let c = 1;
      while (this.packedAt < this.packed.length && this.packed[this.packedAt] === v) {
        this.packedAt++;
        c++;
      }
      this.value = v;
      this.count = c;
      return true;
    }
    if (this.remaining === 0) return false;
    let header = 0;
    let mul = 1;
    for (let i = 0; ; i++) {
      if (i === 5) throw new LevelError('levels: run header too long');
      const b = this.byte();
      header += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) break;
      mul *= 128;
    }
    if (header % 2 === 0) {
      const n = header / 2;
      if (n === 0) throw new LevelError('levels: empty run');
      let v = 0;
      for (let k = 0, mul = 1; k < Math.ceil(this.width / 8); k++, mul *= 256) v += this.byte() * mul;
      if (v > this.mask) throw new LevelError(`levels: value ${v} above the maximum level`);
      this.value = v;
      this.count = Math.min(n, this.remaining);
      this.remaining -= this.count;
      return true;
    }
    // Bit-packed: (header >> 1) groups of 8 values, `width` bits each, LSB first.
    const groups = Math.floor(header / 2);
    const nbytes = groups * this.width;
    if (groups === 0 || nbytes > this.end - this.pos) throw new LevelError('levels: bit-packed run past the end');
    const n = Math.min(groups * 8, this.remaining);
    const vals: number[] = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      // `width` bits from bit i*width on, least significant first; up to 5 bytes for width 30.
      const bit = i * this.width;
      let acc = 0;
      for (let k = 0, mul = 1; k <= Math.ceil(((bit & 7) + this.width) / 8) - 1; k++, mul *= 256)
        acc += (this.bytes[this.pos + (bit >> 3) + k] as number) * mul;
      vals[i] = Math.floor(acc / 2 ** (bit & 7)) % 2 ** this.width;
    }
    this.pos += nbytes;
    this.remaining -= n;
    this.packed = vals;
    this.packedAt = 0;
    return this.next();
  }
}
