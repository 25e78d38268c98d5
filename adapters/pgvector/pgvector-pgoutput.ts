/**
 * The streaming replication protocol as a logical walsender speaks it, and pgoutput's messages
 * (protocol version 1, text mode): https://www.postgresql.org/docs/current/protocol-replication.html
 * and protocol-logicalrep-message-formats.html. Pure functions over bytes: no I/O here.
 *
 * Copy data from the walsender is either `w` XLogData (start LSN, end LSN, send time, then one
 * pgoutput message) or `k` a primary keepalive (WAL end, send time, reply requested); the client
 * answers with `r` standby status updates.
 */

/** A tuple column's value: text, SQL NULL, or `UNCHANGED` (a TOASTed value the update did not touch, pgoutput `'u'`). */
export const UNCHANGED: unique symbol = Symbol('unchanged TOAST value');
export type TupleValue = string | null | typeof UNCHANGED;

export interface RelationColumn {
  /** Part of the replica identity (the key a delete carries). */
  key: boolean;
  name: string;
  typeOid: number;
  typmod: number;
}

export type PgoutputMessage =
  /** `finalLsn`: the LSN of the transaction's commit record (known at Begin: proto 1 sends whole transactions at commit). */
  | { tag: 'begin'; finalLsn: bigint; xid: number }
  | { tag: 'commit'; commitLsn: bigint; endLsn: bigint }
  /** `identity`: relreplident (`d` default, `n` nothing, `f` full, `i` index). */
  | { tag: 'relation'; relid: number; namespace: string; name: string; identity: string; columns: RelationColumn[] }
  | { tag: 'insert'; relid: number; tuple: TupleValue[] }
  /** `old`: the key (`K`, identity default/index) or the whole old row (`O`, identity full), when the server sent one. */
  | { tag: 'update'; relid: number; old?: { kind: 'K' | 'O'; tuple: TupleValue[] }; tuple: TupleValue[] }
  | { tag: 'delete'; relid: number; old: { kind: 'K' | 'O'; tuple: TupleValue[] } }
  | { tag: 'truncate'; relids: number[] }
  /** Type (`Y`), Origin (`O`), logical Message (`M`): nothing a link needs. */
  | { tag: 'other'; type: string };

export type CopyMessage =
  { kind: 'xlog'; start: bigint; end: bigint; payload: Buffer } | { kind: 'keepalive'; walEnd: bigint; replyRequested: boolean };

const XLOG_HEADER = 25; // 'w' + start u64 + end u64 + send time u64
/** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
const PG_EPOCH_US = 946_684_800_000_000n;

export class ProtocolError extends Error {}

/** One CopyData message from a logical walsender. The payload is a view of `chunk`: decode it before the next read. */
export function parseCopyData(chunk: Buffer): CopyMessage {
  const tag = String.fromCharCode(chunk[0] ?? 0);
  if (tag === 'w' && chunk.length >= XLOG_HEADER)
    return { kind: 'xlog', start: chunk.readBigUInt64BE(1), end: chunk.readBigUInt64BE(9), payload: chunk.subarray(XLOG_HEADER) };
  if (tag === 'k' && chunk.length >= 18) return { kind: 'keepalive', walEnd: chunk.readBigUInt64BE(1), replyRequested: chunk[17] === 1 };
  throw new ProtocolError(`unexpected replication message ${JSON.stringify(tag)} (${chunk.length} bytes)`);
}

/**
 * A standby status update: written, flushed and applied up to `lsn` (all three the same: a link
 * confirms nothing while it runs, so this is the slot's old confirmed position). `replyRequested`
 * asks the walsender for a keepalive at once (which says how far it has read).
 */
export function standbyStatus(lsn: bigint, replyRequested: boolean, now = Date.now()): Buffer {
  const b = Buffer.alloc(34);
  b.write('r', 0, 'latin1');
  b.writeBigUInt64BE(lsn, 1);
  b.writeBigUInt64BE(lsn, 9);
  b.writeBigUInt64BE(lsn, 17);
  b.writeBigInt64BE(BigInt(now) * 1000n - PG_EPOCH_US, 25);
  b.writeUInt8(replyRequested ? 1 : 0, 33);
  return b;
}

/** Reads pgoutput's fields in order. */
class Reader {
  private at = 0;
  constructor(private readonly b: Buffer) {}
  u8(): number {
    return this.b.readUInt8(this.take(1));
  }
  u16(): number {
    return this.b.readUInt16BE(this.take(2));
  }
  u32(): number {
    return this.b.readUInt32BE(this.take(4));
  }
  i32(): number {
    return this.b.readInt32BE(this.take(4));
  }
  u64(): bigint {
    return this.b.readBigUInt64BE(this.take(8));
  }
  char(): string {
    return String.fromCharCode(this.u8());
  }
  cstring(): string {
    const end = this.b.indexOf(0, this.at);
    if (end < 0) throw new ProtocolError('unterminated string in a pgoutput message');
    const s = this.b.toString('utf8', this.at, end);
    this.at = end + 1;
    return s;
  }
  text(n: number): string {
    return this.b.toString('utf8', this.take(n), this.at);
  }
  private take(n: number): number {
    const at = this.at;
    if (at + n > this.b.length) throw new ProtocolError('truncated pgoutput message');
    this.at += n;
    return at;
  }
}

function tuple(r: Reader): TupleValue[] {
  const n = r.u16();
  const out: TupleValue[] = new Array<TupleValue>(n);
  for (let i = 0; i < n; i++) {
    const kind = r.char();
    if (kind === 'n') out[i] = null;
    else if (kind === 'u') out[i] = UNCHANGED;
    else if (kind === 't') out[i] = r.text(r.u32());
    else throw new ProtocolError(`tuple column kind ${JSON.stringify(kind)} (only text mode is requested)`);
  }
  return out;
}

/** One pgoutput message (the payload of an XLogData). */
export function decodePgoutput(payload: Buffer): PgoutputMessage {
  const r = new Reader(payload);
  const tag = r.char();
  switch (tag) {
    case 'B': {
      const finalLsn = r.u64();
      r.u64(); // commit time
      return { tag: 'begin', finalLsn, xid: r.u32() };
    }
    case 'C': {
      r.u8(); // flags
      const commitLsn = r.u64();
      return { tag: 'commit', commitLsn, endLsn: r.u64() };
    }
    case 'R': {
      const relid = r.u32();
      const namespace = r.cstring();
      const name = r.cstring();
      const identity = r.char();
      const columns: RelationColumn[] = [];
      for (let i = r.u16(); i > 0; i--) columns.push({ key: (r.u8() & 1) === 1, name: r.cstring(), typeOid: r.u32(), typmod: r.i32() });
      return { tag: 'relation', relid, namespace, name, identity, columns };
    }
    case 'I': {
      const relid = r.u32();
      if (r.char() !== 'N') throw new ProtocolError('Insert without a new tuple');
      return { tag: 'insert', relid, tuple: tuple(r) };
    }
    case 'U': {
      const relid = r.u32();
      let kind = r.char();
      let old: { kind: 'K' | 'O'; tuple: TupleValue[] } | undefined;
      if (kind === 'K' || kind === 'O') {
        old = { kind, tuple: tuple(r) };
        kind = r.char();
      }
      if (kind !== 'N') throw new ProtocolError('Update without a new tuple');
      return old ? { tag: 'update', relid, old, tuple: tuple(r) } : { tag: 'update', relid, tuple: tuple(r) };
    }
    case 'D': {
      const relid = r.u32();
      const kind = r.char();
      if (kind !== 'K' && kind !== 'O') throw new ProtocolError('Delete without a key or old tuple');
      return { tag: 'delete', relid, old: { kind, tuple: tuple(r) } };
    }
    case 'T': {
      const relids: number[] = [];
      const n = r.u32();
      r.u8(); // options: CASCADE, RESTART IDENTITY
      for (let i = 0; i < n; i++) relids.push(r.u32());
      return { tag: 'truncate', relids };
    }
    case 'Y':
    case 'O':
    case 'M':
      return { tag: 'other', type: tag };
    default:
      throw new ProtocolError(`unknown pgoutput message ${JSON.stringify(tag)}`);
  }
}
