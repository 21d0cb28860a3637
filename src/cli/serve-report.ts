import { networkInterfaces } from 'node:os';
import { encoderImplementation } from '../encode/encoder-choice.js';
import { nativeJpegUnavailableReason } from '../encode/native-jpeg.js';
import { formatAddress } from '../client/address.js';
import type { FramecastServer } from '../app/serve.js';
import type { Logger } from './output.js';
import { httpLines } from './http-options.js';
import { redactCredentials } from '../util/redact.js';

function lanAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && a.family === 'IPv4') out.push(a.address);
  }
  return out;
}

/** The 'listening' event: the ffmpeg and encoder in use, what is served, and the addresses to connect to. */
export function reportStart(server: FramecastServer, log: Logger): void {
  for (const n of server.startupNotes)
    log.event('record-note', `${n.stream}: ${n.message}`, { stream: n.stream, message: n.message });
  const { port } = server.address();
  const host = server.options.host;
  if (server.ffmpeg) {
    log.event('ffmpeg', `ffmpeg: ${server.ffmpeg.path} (from ${server.ffmpeg.origin})`, { ...server.ffmpeg });
    const implementation = encoderImplementation(server.options.encoder);
    const why = server.options.encoder === 'libjpeg' ? nativeJpegUnavailableReason() : null;
    log.event('encoder', `encoder: ${implementation}${why ? ` (native encoder not used: ${why})` : ''}`, {
      implementation,
      ...(why ? { nativeUnavailable: why } : {}),
    });
  }
  const hosts = host === '0.0.0.0' || host === '::' ? ['127.0.0.1', ...lanAddresses()] : [host];
  const o = server.options;
  const scheme = o.tls ? 'tls' : 'tcp';
  const urls = hosts.map((h) => (o.tls ? 'tls://' : '') + formatAddress(h, port));
  const httpPort = server.httpAddress()?.port ?? null;
  const list = server.streams.list();
  const what =
    list.length === 1 && list[0]?.name === 'default'
      ? server.spec?.kind === 'test'
        ? 'the test pattern'
        : (server.spec?.name ?? 'published frames')
      : `${list.length} stream${list.length === 1 ? '' : 's'} (${list.map((s) => `${s.name}: ${s.spec?.kind === 'test' ? 'test pattern' : (s.spec?.name ?? 'published frames')}`).join(', ')})`;
  log.event(
    'listening',
    `framecast: serving ${what} on ${scheme}://${formatAddress(host, port)}` +
      ` (width ${o.width || 'source'}, quality ${o.quality}${o.encoder === 'ffmpeg' ? ', ffmpeg encoder' : ''}, ${o.pace ? 'paced' : 'no pace'}${o.fps ? `, max ${o.fps} fps` : ''}${o.loop ? ', loop' : ''}, max ${o.maxClients} clients${o.auth ? `, access: ${o.auth}` : ''}${o.tokenRequired ? `, token required${o.allowLegacy ? ', seed clients allowed without it' : ''}` : ''})\n` +
      urls
        .map((u) =>
          o.tls
            ? `  connect with: framecast play ${u}   (add --ca CERT unless the certificate is publicly trusted)`
            : `  connect with: framecast play ${u}   (or the seed's cliente.py)`,
        )
        .join('\n') +
      (server.legacyAddress()
        ? `\n  seed clients only: ${scheme}://${formatAddress(host, server.legacyAddress()?.port ?? 0)} (first frame at once)`
        : '') +
      (httpPort === null
        ? ''
        : '\n' +
          httpLines(hosts, httpPort, o.httpPort, o.tokenRequired)
            .map((l) => (o.tls ? l.replaceAll('http://', 'https://') : l))
            .join('\n')),
    {
      host,
      port,
      httpPort,
      legacyPort: server.legacyAddress()?.port ?? null,
      streams: list.map((st) => ({
        name: st.name,
        source: st.spec?.name ?? null,
        legacyPort: server.legacyAddress(st.name)?.port ?? null,
      })),
      addresses: urls,
      source: server.spec?.name ?? null,
      // The options hold the source as given: a camera URL's password must not reach the log.
      options: { ...o, source: redactCredentials(o.source) },
    },
  );
}
