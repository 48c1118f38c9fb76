import { DecodeError } from './errors.js';
import type { Lsn } from '../lsn.js';

/**
 * A cursor over one message: every read checks the remaining length first, so a truncated
 * message fails with a DecodeError instead of reading past its end. Integers are big-endian.
 */
export class BufferReader {
  private offset = 0;

  constructor(private readonly bytes: Buffer) {}

  get position(): number {
    return this.offset;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  fail(message: string): never {
    throw new DecodeError(message, this.bytes, this.offset);
  }

  private need(count: number, what: string): void {
    if (this.remaining < count) this.fail(`truncated message: ${what} needs ${count} bytes, ${this.remaining} left`);
  }

  uint8(what = 'Int8'): number {
    this.need(1, what);
    return this.bytes.readUInt8(this.offset++);
  }

  int16(what = 'Int16'): number {
    this.need(2, what);
    const value = this.bytes.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  int32(what = 'Int32'): number {
    this.need(4, what);
    const value = this.bytes.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  uint32(what = 'UInt32'): number {
    this.need(4, what);
    const value = this.bytes.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  uint64(what = 'Int64'): bigint {
    this.need(8, what);
    const value = this.bytes.readBigUInt64BE(this.offset);
    this.offset += 8;
    return value;
  }

  int64(what = 'Int64'): bigint {
    this.need(8, what);
    const value = this.bytes.readBigInt64BE(this.offset);
    this.offset += 8;
    return value;
  }

  lsn(what = 'LSN'): Lsn {
    return this.uint64(what);
  }

  /** A NUL-terminated string in the server encoding, which the relay requires to be UTF-8. */
  cstring(what = 'String'): string {
    const end = this.bytes.indexOf(0, this.offset);
    if (end < 0) this.fail(`truncated message: ${what} has no terminating NUL`);
    const value = this.bytes.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return value;
  }

  /** Copies the bytes so that the result does not pin the whole receive buffer in memory. */
  bytesOf(count: number, what = 'Byte n'): Buffer {
    if (count < 0) this.fail(`negative length ${count} for ${what}`);
    this.need(count, what);
    const value = Buffer.from(this.bytes.subarray(this.offset, this.offset + count));
    this.offset += count;
    return value;
  }

  rest(): Buffer {
    return this.bytesOf(this.remaining, 'rest');
  }

  expectEnd(what: string): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} unexpected trailing bytes after ${what}`);
  }
}
