import type { FramecastServer } from '../app/serve.js';
import type { Hub } from '../hub/hub.js';
import { type Logger, onKeys } from './output.js';
import { logBusState } from './bus-options.js';

/** Logs the server's events and a status line each second until SIGINT/SIGTERM (or Ctrl-C) closes it; resolves to the exit code. */
export function runUntilSignal(server: FramecastServer, log: Logger): Promise<number> {
  return new Promise((resolve) => {
    const many = server.streams.size > 1;
    const tag = (stream: string): string => (many ? `[${stream}] ` : '');
    server.on('transmission-start', (s, stream) =>
      log.event('transmission-start', `${tag(stream)}transmission started: ${s.name}`, { source: s, stream }),
    );
    server.on('transmission-end', (reason, err, stream) =>
      log.event(
        'transmission-end',
        `${tag(stream)}transmission ended (${reason})${err ? `: ${err.message}` : ''}`,
        { reason, error: err ? { code: err.code, message: err.message } : null, stream },
      ),
    );
    server.on('client', (s) => {
      const stream = s.stats().stream ?? 'default';
      log.event('client', `${tag(stream)}client ${s.address} connected (${s.protocol})`, {
        id: s.id,
        address: s.address,
        protocol: s.protocol,
        stream,
      });
    });
    server.on('waiting', (s, p) =>
      log.event('waiting', `client ${s.address} waits for a place (#${p})`, {
        id: s.id,
        address: s.address,
        position: p,
      }),
    );
    server.on('left', (st) =>
      log.event(
        'left',
        `client ${st.address} left: ${st.framesSent} frames, ${Math.round(st.bytesSent / 1024)} kB, ${st.drops} dropped`,
        { ...st },
      ),
    );
    server.on('refused', (a, r) =>
      log.event('refused', `client ${a} refused: ${r}`, { address: a, reason: r }),
    );
    server.on('upgraded', (a) =>
      log.event('upgraded', `client ${a} said its native hello after the grace: native from now on`, {
        address: a,
      }),
    );
    server.on('web-stop', (a, stopped) =>
      log.event(
        'stop',
        stopped
          ? `transmission stopped from the dashboard (${a}); waiting for the next client`
          : `dashboard ${a} asked to stop, but nothing was being transmitted`,
        { address: a, stopped, from: 'http' },
      ),
    );
    server.on('kicked', (st, ms) =>
      log.event('kicked', `client ${st.address} cut: it took no data for ${(ms / 1000).toFixed(1)} s`, {
        ...st,
        stalledMs: Math.round(ms),
      }),
    );
    logBusState(server, log);
    server.on('record-failed', (stream, err) =>
      log.event(
        'record-failed',
        `${tag(stream)}recording stopped: ${err.message}; live viewing goes on, recording resumes when writes succeed`,
        { stream, error: err.message },
      ),
    );
    server.on('record-resumed', (stream) =>
      log.event('record-resumed', `${tag(stream)}recording resumed`, { stream }),
    );
    server.on('record-deleted', (stream, info, why) =>
      log.event('record-deleted', `${tag(stream)}recording ${info.name} deleted (${why})`, {
        stream,
        segment: info.name,
        why,
      }),
    );
    server.on('record-note', (stream, message) =>
      log.event('record-note', `${tag(stream)}${message}`, { stream, message }),
    );
    server.on('hook', (line) => log.event('hook', line, { message: line }));
    server.on('exec', (stream, line) =>
      log.event('exec', `stream ${stream}: ${line}`, { stream, message: line }),
    );
    server.on('source-status', (st, stream) =>
      log.event(
        'source-status',
        tag(stream) +
          (st.state === 'no-signal'
            ? `source lost (${st.lastError ?? 'unknown error'}); retry ${st.retries + 1} in ${Math.max(0, ((st.nextRetryAt ?? Date.now()) - Date.now()) / 1000).toFixed(1)} s`
            : `source ${st.state}`),
        { ...st, stream },
      ),
    );

    // The status line adds up every stream.
    const hubs = (): Hub[] => server.streams.list().map((st) => st.hub);
    const framesIn = (): number => hubs().reduce((n, h) => n + h.totals.framesIn, 0);
    let last = { frames: framesIn(), bytes: 0, drops: 0, t: Date.now() };
    const sentBytes = (): { bytes: number; drops: number } => {
      let bytes = 0;
      let drops = 0;
      for (const c of hubs().flatMap((h) => h.clients)) {
        const s = c.stats();
        bytes += s.bytesSent;
        drops += s.drops;
      }
      return { bytes, drops };
    };
    const status = setInterval(() => {
      const now = Date.now();
      const clients = hubs().reduce((n, h) => n + h.clientCount, 0);
      const { bytes, drops } = sentBytes();
      const frames = framesIn();
      const dt = (now - last.t) / 1000;
      const fps = (frames - last.frames) / dt;
      const kBps = Math.max(0, bytes - last.bytes) / 1024 / dt;
      const newDrops = Math.max(0, drops - last.drops);
      last = { frames, bytes, drops, t: now };
      if (clients === 0) return;
      const waiting = hubs().reduce((n, h) => n + h.waitingCount, 0);
      log.event(
        'status',
        `FPS: ${fps.toFixed(1)} | clients ${clients}${waiting ? ` (+${waiting} waiting)` : ''} | ${kBps.toFixed(0)} kB/s | drops ${newDrops}`,
        { fps: Math.round(fps * 10) / 10, clients, waiting, kBps: Math.round(kBps), drops: newDrops },
      );
    }, 1000);

    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      clearInterval(status);
      releaseKeys();
      log.event('shutdown', `shutting down (${signal})`, { signal });
      const force = setTimeout(() => resolve(0), 2000);
      force.unref();
      void server.close().then(() => {
        clearTimeout(force);
        resolve(0);
      });
    };
    const releaseKeys = onKeys({
      q: () => {
        if (server.stopTransmission())
          log.event('stop', "transmission stopped ('q'); waiting for the next client", {});
      },
      interrupt: () => stop('SIGINT'),
    });
    // `on`, not `once`: a second signal must not kill us by default and orphan ffmpeg; the 2 s
    // force timer already bounds the shutdown.
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}
