import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { publish, type RemotePublisher } from '../../src/client/remote-publisher.js';
import {
  HelloFlag,
  decodeHello,
  encodeAck,
  encodePreamble,
  encodeWelcome,
} from '../../src/protocol/native.js';
import { NativeParser } from '../../src/protocol/native-parser.js';
import { fakeServer, type FakeServer } from '../helpers/net.js';
import { makeJpeg } from '../helpers/native.js';
import { sleep } from '../helpers/processes.js';

let fake: FakeServer | null = null;
let pub: RemotePublisher | null = null;
afterEach(async () => {
  pub?.close();
  pub = null;
  await fake?.close();
  fake = null;
});

/** A server that welcomes a publisher, records the seq of every frame it gets, and acks only when told. */
async function silentServer(): Promise<{ seqs: number[]; ack: (seq: number, window?: number) => void }> {
  const seqs: number[] = [];
  let peer: net.Socket | null = null;
  fake = await fakeServer((socket) => {
    peer = socket;
    let pending = Buffer.alloc(0);
    let parser: NativeParser | null = null;
    socket.on('data', (chunk: Buffer) => {
      if (parser) {
        parser.push(chunk, (m) => m.type === 'frame' && seqs.push(m.seq));
        return;
      }
      pending = Buffer.concat([pending, chunk]);
      const hello = decodeHello(pending);
      if (hello.status !== 'ok') return;
      socket.write(Buffer.concat([encodePreamble(), encodeWelcome(0, 0, 'fake', HelloFlag.Publish)]));
      // The publisher's frames are native FRAME messages: read them as a client would (after a preamble).
      parser = new NativeParser(1 << 20);
      parser.push(Buffer.concat([encodePreamble(), pending.subarray(hello.consumed)]), (m) => {
        if (m.type === 'frame') seqs.push(m.seq);
      });
    });
  });
  return { seqs, ack: (seq, window) => peer?.write(encodeAck(seq, window)) };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(10);
  expect(cond()).toBe(true);
}

describe('RemotePublisher: the server window', () => {
  it('sends two frames unacknowledged, drops the third, ready() waits for the ack; an ACK window widens it', async () => {
    const server = await silentServer();
    const jpeg = await makeJpeg(64, 48);
    pub = publish(`127.0.0.1:${fake?.port}/cam`, { reconnect: false });
    expect(pub.publish(jpeg)).toBe(false); // not connected yet: dropped, not queued
    await new Promise<void>((r) => pub?.once('connected', r));
    expect(pub.canSend).toBe(true);
    expect(pub.publish(jpeg)).toBe(true);
    expect(pub.publish(jpeg)).toBe(true);
    expect(pub.canSend).toBe(false);
    expect(pub.publish(jpeg)).toBe(false); // no room: dropped
    expect(pub.counts).toMatchObject({ sent: 2, accepted: 0, dropped: 2 });
    let ready = false;
    void pub.ready().then(() => (ready = true));
    await until(() => server.seqs.length >= 2);
    await sleep(300);
    expect(server.seqs).toEqual([0, 1]); // the dropped frame never went out
    expect(ready).toBe(false);

    server.ack(0);
    await until(() => ready);
    expect(pub.counts.accepted).toBe(1);
    expect(pub.publish(jpeg)).toBe(true);
    expect(pub.publish(jpeg)).toBe(false); // 1 and 2 in flight: full again
    await until(() => server.seqs.length >= 3);
    expect(server.seqs).toEqual([0, 1, 2]);

    // An ACK of the newest frame with a window of 4: four frames may now be in flight.
    server.ack(2, 4);
    await until(() => pub?.canSend === true);
    expect(pub.counts.accepted).toBe(3);
    expect([1, 2, 3, 4, 5].map(() => pub?.publish(jpeg))).toEqual([true, true, true, true, false]);
    await until(() => server.seqs.length >= 7);
    await sleep(200);
    expect(server.seqs).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(pub.counts).toMatchObject({ sent: 7, accepted: 3, dropped: 4 });

    // ready() rejects once the publisher is closed.
    const waiting = pub.ready();
    pub.close();
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
  });
});
