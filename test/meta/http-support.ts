/** Shared bits of the HTTP metadata and annotation tests: recorders for WebSocket, SSE and raw bodies. */
import http from 'node:http';
import { WebSocket } from 'ws';

/** Everything a WebSocket viewer received, in order: text as parsed JSON, binary as bytes. */
export interface WsRecord {
  ws: WebSocket;
  /** `{text}` for a text message, `{binary}` for a frame. */
  messages: ({ text: Record<string, unknown> } | { binary: Buffer })[];
  opened: Promise<void>;
}

export function recordWs(url: string, headers: Record<string, string> = {}): WsRecord {
  const ws = new WebSocket(url, { headers, perMessageDeflate: false });
  const r: WsRecord = {
    ws,
    messages: [],
    opened: new Promise((res, rej) => {
      ws.once('open', () => res());
      ws.once('error', rej);
    }),
  };
  r.opened.catch(() => {});
  ws.on('message', (data: Buffer, isBinary) => {
    if (isBinary) r.messages.push({ binary: Buffer.from(data) });
    else r.messages.push({ text: JSON.parse(data.toString('utf8')) as Record<string, unknown> });
  });
  ws.on('error', () => {});
  return r;
}

/** The texts of a WsRecord. */
export const texts = (r: WsRecord): Record<string, unknown>[] =>
  r.messages.flatMap((m) => ('text' in m ? [m.text] : []));

/** The seq of a native FRAME message (a WebSocket binary message). */
export const frameSeq = (b: Buffer): number => b.readUInt32BE(8);

/** A frame message's JPEG. */
export const frameJpeg = (b: Buffer): Buffer => b.subarray(8 + b.readUInt16BE(2));

/** One Server-Sent Event. */
export interface SseEvent {
  event: string;
  data: string;
}

/** A GET /events reader: its status, events, comment lines, and whether the response ended. */
export interface SseRecord {
  status: Promise<number>;
  events: SseEvent[];
  comments: string[];
  ended: boolean;
  req: http.ClientRequest;
}

export function recordSse(url: string, headers: Record<string, string> = {}): SseRecord {
  let setStatus: (n: number) => void = () => {};
  const r: SseRecord = {
    status: new Promise((res) => (setStatus = res)),
    events: [],
    comments: [],
    ended: false,
    req: http.get(url, { headers }, (res) => {
      setStatus(res.statusCode ?? 0);
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev: SseEvent = { event: 'message', data: '' };
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) r.comments.push(line);
            else if (line.startsWith('event: ')) ev.event = line.slice(7);
            else if (line.startsWith('data: ')) ev.data += line.slice(6);
          }
          if (ev.data !== '') r.events.push(ev);
        }
      });
      res.on('end', () => (r.ended = true));
      res.on('error', () => {});
    }),
  };
  r.req.on('error', () => {});
  return r;
}

/** A multipart part as a publisher writes it. */
export function part(type: string, body: Buffer, boundary: string, length = true): Buffer {
  const len = length ? `Content-Length: ${body.length}\r\n` : '';
  return Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Type: ${type}\r\n${len}\r\n`, 'latin1'),
    body,
    Buffer.from('\r\n'),
  ]);
}

/** A POST whose body is written piece by piece (chunked); `done` is the status and text. */
export interface OpenPost {
  write(b: Buffer): void;
  end(): void;
  done: Promise<{ status: number; text: string }>;
}

export function openPost(url: string, headers: Record<string, string> = {}): OpenPost {
  let resolve: (v: { status: number; text: string }) => void = () => {};
  const done = new Promise<{ status: number; text: string }>((res) => (resolve = res));
  const req = http.request(url, { method: 'POST', headers }, (res) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (text += c));
    res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    res.on('error', () => resolve({ status: res.statusCode ?? 0, text }));
  });
  req.on('error', () => {});
  return { write: (b) => req.write(b), end: () => req.end(), done };
}

/** POSTs a JSON annotation; the status, the text and the parsed JSON when there is one. */
export async function postAnnotation(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: r.status, text: await r.text() };
}
