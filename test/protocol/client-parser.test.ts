/** The ACK message and the server's parser of client messages: every split, bad types, oversize. */
import { describe, expect, it } from 'vitest';
import { ClientMessageParser, ClientProtocolError } from '../../src/protocol/client-parser.js';
import { ACK_BYTES, MAX_ACK_WINDOW, MessageType, encodeAck } from '../../src/protocol/native.js';

function parseAll(chunks: Buffer[]): number[] {
  const p = new ClientMessageParser();
  const seqs: number[] = [];
  for (const c of chunks) p.push(c, (m) => seqs.push(m.seq));
  expect(p.atBoundary).toBe(true);
  return seqs;
}

function expectRejected(bytes: Buffer, message: RegExp): void {
  const p = new ClientMessageParser();
  expect(() => p.push(bytes, () => {})).toThrow(message);
  // Stays failed: a later push throws the same error.
  expect(() => p.push(encodeAck(1), () => {})).toThrow(ClientProtocolError);
}

describe('ACK', () => {
  it('encodes the documented 12 bytes: type 6, flags 0, H = 4, B = 0, seq', () => {
    expect(encodeAck(0x01020304).toString('hex')).toBe('06' + '00' + '0004' + '00000000' + '01020304');
    expect(encodeAck(2 ** 32 + 5).readUInt32BE(8)).toBe(5);
    expect(ACK_BYTES).toBe(12);
    expect(MessageType.Ack).toBe(6);
  });

  it('parses the same acks under every split of the stream', () => {
    const stream = Buffer.concat([encodeAck(7), encodeAck(0xffffffff), encodeAck(0)]);
    expect(parseAll([stream])).toEqual([7, 0xffffffff, 0]);
    for (let a = 0; a <= stream.length; a++) {
      for (let b = a; b <= stream.length; b++) {
        const got = parseAll([stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)]);
        expect(got).toEqual([7, 0xffffffff, 0]);
      }
    }
    // One byte at a time.
    expect(parseAll([...stream].map((x) => Buffer.from([x])))).toEqual([7, 0xffffffff, 0]);
  });

  it('carries an optional window (seq, uint16 window, reserved), capped to 1..MAX_ACK_WINDOW', () => {
    expect(encodeAck(9, 5).toString('hex')).toBe(
      '06' + '00' + '0008' + '00000000' + '00000009' + '0005' + '0000',
    );
    const windows: (number | null)[] = [];
    const p = new ClientMessageParser();
    const stream = Buffer.concat([encodeAck(1, 5), encodeAck(2), encodeAck(3, 1000), encodeAck(4, 0)]);
    for (const b of stream) p.push(Buffer.from([b]), (m) => m.type === 'ack' && windows.push(m.window));
    expect(windows).toEqual([5, null, MAX_ACK_WINDOW, 1]);
  });

  it('skips header fields a later version appends', () => {
    const longer = Buffer.from('06000008000000000000002aaabbccdd', 'hex');
    expect(parseAll([longer, encodeAck(43)])).toEqual([42, 43]);
  });

  it('rejects any other type, known or not, at its envelope', () => {
    for (const type of [0, MessageType.Welcome, MessageType.Frame, MessageType.Error, 7, 255]) {
      const env = encodeAck(1);
      env.writeUInt8(type, 0);
      expectRejected(env.subarray(0, 8), new RegExp(`message type ${type} is not accepted`));
    }
  });

  it('rejects a header that is too short or oversize and any body, before reading it', () => {
    expectRejected(Buffer.from('0600000300000000', 'hex'), /ACK header of 3 bytes/);
    expectRejected(Buffer.from('060000410000000000', 'hex'), /ACK header of 65 bytes/);
    expectRejected(Buffer.from('0600ffff00000000', 'hex'), /ACK header of 65535 bytes/);
    expectRejected(Buffer.from('06000004ffffffff', 'hex'), /ACK with a body of 4294967295 bytes/);
    expectRejected(Buffer.from('0600000400000001', 'hex'), /ACK with a body of 1 bytes/);
  });

  it('an ack followed by garbage: the ack counts, then the error', () => {
    const p = new ClientMessageParser();
    const seqs: number[] = [];
    expect(() =>
      p.push(Buffer.concat([encodeAck(9), Buffer.from('GET / HTTP/1.1\r\n')]), (m) => seqs.push(m.seq)),
    ).toThrow(/message type 71/);
    expect(seqs).toEqual([9]);
  });
});
