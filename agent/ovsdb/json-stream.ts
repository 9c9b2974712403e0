// RFC 7047 messages are bare JSON texts written back to back, with no length prefix or newline
// framing. This splitter finds where each top-level value ends by counting {}/[] depth outside
// strings. It works on bytes, so a chunk boundary may fall anywhere, even inside a UTF-8 sequence:
// every structural byte is ASCII and no byte of a multi-byte UTF-8 sequence is below 0x80.

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export class JsonFramingError extends Error {
  override name = 'JsonFramingError';
}

export class JsonStreamSplitter {
  /** Pieces of the unfinished message from earlier chunks. */
  private parts: Buffer[] = [];
  private partBytes = 0;
  private inMessage = false;
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(private readonly maxMessageBytes = 256 * 1024 * 1024) {}

  /** Bytes held for an incomplete message. */
  get pendingBytes(): number {
    return this.partBytes;
  }

  /** Feeds a chunk; returns the text of every message completed by it, in order. */
  push(chunk: Buffer | string): string[] {
    const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const out: string[] = [];
    let start = this.inMessage ? 0 : -1; // start of the current message within this chunk
    for (let i = 0; i < b.length; i++) {
      const c = b[i]!;
      if (!this.inMessage) {
        // Between messages: skip whitespace, anything else must open a value.
        if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
        if (c !== OPEN_BRACE && c !== OPEN_BRACKET) {
          this.reset();
          throw new JsonFramingError(`unexpected byte 0x${c.toString(16)} between JSON messages`);
        }
        this.inMessage = true;
        start = i;
        this.depth = 1;
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) this.inString = false;
        continue;
      }
      if (c === QUOTE) this.inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        if (--this.depth === 0) {
          const tail = b.subarray(start, i + 1);
          const whole = this.parts.length ? Buffer.concat([...this.parts, tail]) : tail;
          this.parts = [];
          this.partBytes = 0;
          this.inMessage = false;
          out.push(whole.toString('utf8'));
        }
      }
    }
    if (this.inMessage) {
      const rest = b.subarray(start);
      if (rest.length) {
        // Copy: the caller may reuse its chunk buffer.
        this.parts.push(Buffer.from(rest));
        this.partBytes += rest.length;
      }
      if (this.partBytes > this.maxMessageBytes) {
        this.reset();
        throw new JsonFramingError(`JSON message exceeds ${this.maxMessageBytes} bytes`);
      }
    }
    return out;
  }

  reset(): void {
    this.parts = [];
    this.partBytes = 0;
    this.inMessage = false;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
  }
}
