/** Writes log events as human lines or as one JSON object per line (--json). */
export class Logger {
  readonly json: boolean;
  readonly #out: NodeJS.WritableStream;

  constructor(json: boolean, out: NodeJS.WritableStream = process.stdout) {
    this.json = json;
    this.#out = out;
    // A reader that went away (`serve | head`) must not crash the server with EPIPE: logs are dropped.
    out.on('error', () => {});
  }

  /** One event: `human` is the text line, `fields` the JSON object's content. */
  event(event: string, human: string, fields: Record<string, unknown> = {}): void {
    if (this.json)
      this.#out.write(JSON.stringify({ time: new Date().toISOString(), event, ...fields }) + '\n');
    else this.#out.write(human + '\n');
  }
}

/** Listens for single keys on a terminal (the seed's `cv2.waitKey`); no-op when stdin is not a TTY. */
export function onKeys(handlers: { q?: () => void; interrupt?: () => void }): () => void {
  const stdin = process.stdin;
  if (!stdin.isTTY) return () => {};
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  const onData = (key: string): void => {
    if (key === 'q' || key === 'Q') handlers.q?.();
    // Raw mode swallows Ctrl-C; treat it as the signal it would have been.
    else if (key === '\u0003') handlers.interrupt?.();
  };
  stdin.on('data', onData);
  stdin.resume();
  return () => {
    stdin.off('data', onData);
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
  };
}

/** Formats kB/s and fps the same way in every status line. */
export function fmtRate(n: number, digits = 1): string {
  return n.toFixed(digits);
}
