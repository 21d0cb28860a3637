import { parseArgs } from 'node:util';
import { withUsage } from './args.js';
import { SERVE_TOKEN_HELP } from './token-options.js';
import { BUS_ARGS, BUS_HELP } from './bus-options.js';

/** Help text of `framecast serve`. */
export const SERVE_HELP = `Usage: framecast serve [[NAME=]SOURCE ...] [options]

Streams each SOURCE to every client that connects, encoding each frame once: on TCP, the seed's
framing (length + base64 JPEG) or framecast's native protocol on the same port; on HTTP,
MJPEG, snapshots, WebSocket, a viewer page and a dashboard.

SOURCE    a video file, an http/rtsp URL, a webcam (/dev/video0, webcam:0, 0),
          'test' (moving test pattern, the default), or 'publisher': frames pushed by a
          remote publisher (framecast publish, HTTP POST .../publish), passed through as they come,
          or 'exec:COMMAND': a publisher stream whose publisher is COMMAND, started (sh -c) with
          its first viewer and stopped after its last (docs/CONFIG.md, "Sources")
NAME=     names the stream (letters, digits, _ . -; at most 64): clients watch it at
          HOST:PORT/NAME and http://HOST:HTTP_PORT/streams/NAME/. A source without a name is
          the stream 'default'. The first stream is the default stream: seed clients on the
          main port and the plain HTTP paths (/stream.mjpg, /ws, ...) serve it.

Options:
  --host ADDR          address to bind (default 127.0.0.1; 0.0.0.0 serves the network)
  --port N             TCP port, 0-65535 (default 9999; 0 picks a free port)
  --width N            output width, aspect kept; 0 keeps the source width (default 800)
  --quality N          JPEG quality 1-100, libjpeg/OpenCV scale (default 80)
  --encoder E          JPEG encoder: libjpeg (default, in-process libjpeg-turbo) or ffmpeg
                       (ffmpeg's MJPEG encoder: faster, at least libjpeg's PSNR at each --quality)
  --no-pace            send as fast as the pipeline and clients allow, never dropping
                       (the seed's behaviour; default paces at the source's own rate)
  --fps N              cap the frame rate (0.1-1000)
  --loop               restart a file at its end
  --retry-delay S      a camera or URL that fails is retried after S seconds, doubling up to
                       30 s, while clients see NO SIGNAL (0-3600, default 1; 0 = do not retry)
  --max-clients N      clients served at once, 1-100000 (default 100); others wait in turn
  --publish-token T    the token remote publishers present to feed the first stream when its
                       SOURCE is publisher (default: $FRAMECAST_PUBLISH_TOKEN); viewers' tokens
                       never allow publishing
  --allow-anonymous-publish  let a server bound beyond loopback take publishers without a token
  --max-image-pixels N largest image (width x height, from its JPEG header) a publisher or a
                       passthrough source may send, 256-268435456 (default 16777216 = 4096x4096);
                       larger ones are refused before anyone decodes them
  --legacy-port N      also serve seed clients on TCP port N (0 = any free port): the seed
                       framing only, first frame at once (no 100 ms wait for a native hello)
  --passthrough        the source's frames already are JPEG (an MJPEG camera or file): send
                       them untouched, no scale, no encode (--width/--quality do not apply)
  --preload            keep the source running with nobody watching, so the first client gets
                       a frame at once (default: the source runs while someone watches)
  --record             record every stream: segments of the JPEGs as served (Matroska), played
                       back at /streams/NAME/playback.mjpg?start=TIME (README "Recording")
  --record-path DIR    where recordings go, each stream in DIR/NAME/ (default ./recordings)
  --record-max-bytes SIZE  all recordings together at most SIZE (e.g. 50GB): oldest deleted first
  --max-clients-per-ip N  connections at once from one IP address, TCP and HTTP together
                       (0-100000, default 0 = no cap; set it when serving a network)
  --stall-timeout S    cut a client that takes no data for S seconds (0-86400, default 60;
                       0 = never): a peer that stops reading would hold its place forever
  --tls-cert FILE      serve TLS: TCP becomes tls:// (both protocols), HTTP becomes HTTPS/WSS;
  --tls-key FILE       the certificate chain and its private key, PEM (give both)
${SERVE_TOKEN_HELP}
  --http-port N|off    HTTP for browsers and players: viewer (/), /dashboard, /stream.mjpg,
                       /snapshot.jpg, /ws, /stats, /metrics (default 8080, or a free port when
                       8080 is busy; 0 picks a free port; off disables HTTP)
  --allow-origin O     let pages from origin O ('*' = any) call the HTTP endpoints (CORS; default none)
  --config FILE        streams and settings from a YAML file (docs/CONFIG.md); options given
                       here override it. SIGHUP or a change to the file reloads its streams
  --admin-token T      allow PUT/DELETE /api/streams/NAME with this token (default:
                       $FRAMECAST_ADMIN_TOKEN); with --config, changes are written to the file
  --source-path DIR    a directory file sources may come from (repeat for several); default:
                       the working directory, the config file's and each SOURCE file's own
  --bus URL            also be an origin on a NATS frame bus (nats://HOST:PORT): announce the
                       streams there and publish a stream's frames while edges watch it
${BUS_HELP}
  --json               log one JSON object per line
  -h, --help           show this help

Keys (in a terminal): q ends the current transmission; Ctrl-C stops the server.`;

/** The flags `framecast serve` takes, as parseArgs reads them (the table SERVE_HELP describes). */
export const SERVE_ARGS = {
  host: { type: 'string' },
  port: { type: 'string' },
  width: { type: 'string' },
  quality: { type: 'string' },
  encoder: { type: 'string' },
  'no-pace': { type: 'boolean' },
  fps: { type: 'string' },
  loop: { type: 'boolean' },
  'retry-delay': { type: 'string' },
  'max-clients': { type: 'string' },
  'max-clients-per-ip': { type: 'string' },
  'legacy-port': { type: 'string' },
  'publish-token': { type: 'string' },
  'allow-anonymous-publish': { type: 'boolean' },
  'max-image-pixels': { type: 'string' },
  preload: { type: 'boolean' },
  passthrough: { type: 'boolean' },
  record: { type: 'boolean' },
  'record-path': { type: 'string' },
  'record-max-bytes': { type: 'string' },
  'tls-cert': { type: 'string' },
  'stall-timeout': { type: 'string' },
  'tls-key': { type: 'string' },
  token: { type: 'string' },
  'allow-legacy': { type: 'boolean' },
  'http-port': { type: 'string' },
  'allow-origin': { type: 'string' },
  json: { type: 'boolean' },
  config: { type: 'string' },
  ...BUS_ARGS,
  'admin-token': { type: 'string' },
  'source-path': { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `framecast serve`'s command line parsed against SERVE_ARGS; a bad flag is a usage error. */
export function parseServeArgs(argv: string[]) {
  return withUsage('serve', () =>
    parseArgs({ args: argv, allowPositionals: true, strict: true, options: SERVE_ARGS }),
  );
}

/** What parseServeArgs gives for the flags. */
export type ServeFlagValues = ReturnType<typeof parseServeArgs>['values'];
