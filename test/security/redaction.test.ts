/**
 * Camera credentials never reach /stats, the API or the logs: a password with '@' in it, and
 * passwords in query strings (`?user=admin&pwd=X`), are masked like a URL's userinfo (issue "Every
 * way in checked the same", item 6.2).
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LineTail } from '../../src/source/ffmpeg-log.js';
import { redactCredentials } from '../../src/util/redact.js';
import { startServe, type ServeHandle } from '../helpers/cli.js';
import { killTracked } from '../helpers/processes.js';
import { until } from '../http/support.js';

describe('redactCredentials', () => {
  it("masks the userinfo up to the authority's last '@'", () => {
    expect(redactCredentials('rtsp://admin:hun@ter2@cam:554/x')).toBe('rtsp://admin:***@cam:554/x');
    expect(redactCredentials('rtsp://admin:a@b@c@cam/')).toBe('rtsp://admin:***@cam/');
    // A user name with '@' (an e-mail) keeps its name: the password starts at the first ':'.
    expect(redactCredentials('rtsp://me@example.com:pw@cam/')).toBe('rtsp://me@example.com:***@cam/');
    // The authority ends at '/', '?' or '#': an '@' after it is not userinfo.
    expect(redactCredentials('http://h/p?q=a@b http://h?q=a@b')).toBe('http://h/p?q=a@b http://h?q=a@b');
    expect(redactCredentials('/videos/a@b.mp4')).toBe('/videos/a@b.mp4');
    // Two URLs on one line stay two URLs.
    expect(redactCredentials('rtsp://a:b@h and http://u:p@x:8080/s')).toBe(
      'rtsp://a:***@h and http://u:***@x:8080/s',
    );
  });

  it('masks a URL glued to the word before it (no word boundary before its scheme)', () => {
    expect(redactCredentials('cam_rtsp://admin:pw@h/')).toBe('cam_rtsp://admin:***@h/');
    expect(redactCredentials('src=1rtsp://u:secret@10.0.0.2/s')).toBe('src=1rtsp://u:***@10.0.0.2/s');
    expect(redactCredentials('xhttp://a:b@h')).toBe('xhttp://a:***@h');
    // A scheme of 32 characters, the most taken (each place is tried over that many, not the line).
    const long = 'x'.repeat(32);
    expect(redactCredentials(`${long}://a:b@h`)).toBe(`${long}://a:***@h`);
  });

  it('masks query parameters whose names mean a secret, whatever their case', () => {
    expect(redactCredentials('rtsp://h/cgi?user=admin&pwd=X')).toBe('rtsp://h/cgi?user=admin&pwd=***');
    expect(
      redactCredentials(
        'http://h/s?PASS=1&Password=2&passwd=3&key=4&apiKey=5&api_key=6&token=7&access_token=8&secret=9&auth=10&sig=11&signature=12&fps=30',
      ),
    ).toBe(
      'http://h/s?PASS=***&Password=***&passwd=***&key=***&apiKey=***&api_key=***&token=***&access_token=***&secret=***&auth=***&sig=***&signature=***&fps=30',
    );
    // Presigned URLs: every word of the name counts.
    expect(redactCredentials('https://b.s3/x.mjpg?X-Amz-Credential=AK%2F1&X-Amz-Signature=ab12#t')).toBe(
      'https://b.s3/x.mjpg?X-Amz-Credential=***&X-Amz-Signature=***#t',
    );
    // ffmpeg's "URL: reason" keeps its colon; other parameters and an empty value are left alone.
    expect(redactCredentials('http://h/cgi?user=admin&pwd=X: Connection refused')).toBe(
      'http://h/cgi?user=admin&pwd=***: Connection refused',
    );
    expect(redactCredentials('http://h/cgi?monkey=1&keyframes=2&token=')).toBe(
      'http://h/cgi?monkey=1&keyframes=2&token=',
    );
    // Both at once, and masking twice changes nothing.
    const once = redactCredentials('rtsp://admin:p@ss@h/cgi?user=admin&pwd=X');
    expect(once).toBe('rtsp://admin:***@h/cgi?user=admin&pwd=***');
    expect(redactCredentials(once)).toBe(once);
  });

  it("ffmpeg's own error lines go through it", () => {
    const tail = new LineTail();
    tail.push('[tcp @ 0x55] Connection to tcp://127.0.0.1:1?timeout=0 failed: Connection refused\n');
    tail.push('rtsp://admin:hun@ter2@127.0.0.1:1/cgi?user=admin&pwd=S3cr3tQ: Connection refused\n');
    expect(tail.lastError()).toBe('rtsp://admin:***@127.0.0.1:1/cgi?user=admin&pwd=***: Connection refused');
  });
});

const SOURCE = 'rtsp://admin:hun@ter2@127.0.0.1:1/cgi?user=admin&pwd=S3cr3tQ';
const MASKED = 'rtsp://admin:***@127.0.0.1:1/cgi?user=admin&pwd=***';

let serve: ServeHandle | null = null;
afterEach(async () => {
  await serve?.stop();
  serve = null;
  await killTracked();
});

describe('a camera URL with secrets, end to end (real ffmpeg, a camera that refuses)', () => {
  it('/stats, /api/streams and the log lines show it masked, never the secrets', async () => {
    serve = await startServe([SOURCE, '--http-port', '0']);
    const listening = await serve.waitForEvent('listening');
    expect(listening.source).toBe(MASKED);
    const base = `http://127.0.0.1:${listening.httpPort as number}`;
    // A viewer starts the transmission; ffmpeg fails and the source is retried.
    const viewer = net.connect({ host: '127.0.0.1', port: serve.port });
    viewer.on('error', () => {});
    try {
      const lost = await serve.waitForEvent('source-status', 15_000, (e) => e.state === 'no-signal');
      expect(lost.lastError).toBe(`source ${MASKED} failed: ${MASKED}: Connection refused`);
      let stats = '';
      await until(
        async () => {
          stats = await (await fetch(`${base}/stats`)).text();
          return stats.includes('Connection refused');
        },
        10_000,
        'the failure in /stats',
      );
      const parsed = JSON.parse(stats) as { source: { name: string; signal: { lastError: string } } };
      expect(parsed.source.name).toBe(MASKED);
      expect(parsed.source.signal.lastError).toBe(`source ${MASKED} failed: ${MASKED}: Connection refused`);
      const api = (await (await fetch(`${base}/api/streams/default`)).json()) as { source: string };
      expect(api.source).toBe(MASKED);
      const list = (await (await fetch(`${base}/api/streams`)).json()) as { source: string }[];
      expect(list[0]?.source).toBe(MASKED);
      for (const text of [
        stats,
        JSON.stringify(api),
        JSON.stringify(list),
        serve.lines.join('\n'),
        serve.stderr(),
      ]) {
        expect(text).not.toContain('S3cr3tQ');
        expect(text).not.toContain('ter2');
      }
    } finally {
      viewer.destroy();
    }
  });
});
