/** Builds pgoutput and replication messages byte by byte, in wire order, for decoder tests. */
export class Bytes {
  private readonly parts: Buffer[] = [];

  char(letter: string): this {
    return this.uint8(letter.charCodeAt(0));
  }

  uint8(value: number): this {
    this.parts.push(Buffer.from([value]));
    return this;
  }

  int16(value: number): this {
    const buffer = Buffer.alloc(2);
    buffer.writeInt16BE(value);
    this.parts.push(buffer);
    return this;
  }

  int32(value: number): this {
    const buffer = Buffer.alloc(4);
    buffer.writeInt32BE(value);
    this.parts.push(buffer);
    return this;
  }

  uint32(value: number): this {
    const buffer = Buffer.alloc(4);
    buffer.writeUInt32BE(value);
    this.parts.push(buffer);
    return this;
  }

  int64(value: bigint): this {
    const buffer = Buffer.alloc(8);
    buffer.writeBigInt64BE(value);
    this.parts.push(buffer);
    return this;
  }

  uint64(value: bigint): this {
    const buffer = Buffer.alloc(8);
    buffer.writeBigUInt64BE(value);
    this.parts.push(buffer);
    return this;
  }

  cstring(text: string): this {
    this.parts.push(Buffer.from(text, 'utf8'), Buffer.from([0]));
    return this;
  }

  raw(bytes: Buffer | string): this {
    this.parts.push(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes);
    return this;
  }

  textColumn(value: string | Buffer): this {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    return this.char('t').int32(bytes.length).raw(bytes);
  }

  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** An LSN above 2^53, where a JavaScript number would round. */
export const HIGH_LSN = 0x0020_0000_0000_0001n;
