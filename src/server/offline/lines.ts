import { StringDecoder } from 'node:string_decoder';

/**
 * The lines of a stream, in batches (one per chunk read): a loop over a batch
 * costs no promise per line, as readline's iterator does. CRLF is taken as LF.
 * The last line needs no newline.
 */
export async function* lineBatches(input: NodeJS.ReadableStream): AsyncGenerator<string[]> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const text = rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
    const lines = text.split('\n');
    rest = lines.pop()!;
    if (lines.length) yield lines.map(noCR);
  }
  rest += decoder.end();
  if (rest) yield [noCR(rest)];
}

const noCR = (line: string): string => (line.charCodeAt(line.length - 1) === 13 ? line.slice(0, -1) : line);

/**
 * NDJSON out, in writes of about 1 MiB, waiting when the stream asks to
 * (a slow reader of stdout holds the rows in its pipe, not in this process).
 */
export class NdjsonWriter {
  private buffer = '';
  written = 0;

  /** A write that failed (EPIPE: the reader, `head` say, went away): the next flush throws it, so the run ends and cleans up. */
  private failed: Error | undefined;

  constructor(private readonly output: NodeJS.WritableStream) {
    output.on('error', (error: Error) => (this.failed ??= error));
  }

  async write(values: readonly unknown[]): Promise<void> {
    for (const value of values) {
      this.buffer += JSON.stringify(value) + '\n';
      if (this.buffer.length >= 1 << 20) await this.flush();
    }
    this.written += values.length;
  }

  async flush(): Promise<void> {
    if (this.failed) throw this.failed;
    if (!this.buffer) return;
    const ok = this.output.write(this.buffer);
    this.buffer = '';
    if (!ok)
      await new Promise<void>((resolve, reject) => {
        const done = (error?: Error) => {
          this.output.off('drain', done);
          this.output.off('error', done);
          if (error) reject(error);
          else resolve();
        };
        this.output.once('drain', done);
        this.output.once('error', done);
      });
    if (this.failed) throw this.failed;
  }
}
