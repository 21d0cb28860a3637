/**
 * Reads an origin's frames off the NATS bus (seq and capture time from each FRAME message's header),
 * so the load generator can count edge viewers' frames against the frames the origin published.
 * It runs in the bench's own process, not the load generator's: there its messages arrived on the
 * same event loop as the viewers' frames and added 0.4-0.7 ms to their measured latency at p50.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { ENVELOPE_BYTES, MessageType } from '../../src/protocol/native.js';

/** A frame in parts carries `i/n` here (docs/PROTOCOL.md, "Bus": read as any other program would). */
const PART_HEADER = 'Framecast-Part';

/** A subscription to one stream's frames. */
export interface BusTap {
  /** The load generator's window opened: seqs from now on are the window's. */
  open(): void;
  /** The window closed: writes {"window": [min, max], "frames": [[seq, capturedAt], ...]} to `file`. */
  write(file: string): void;
  close(): Promise<void>;
}

/** Subscribes to `subject` (PREFIX.s.STREAM.frame) on the NATS server at `url`. */
export async function tapOrigin(url: string, subject: string): Promise<BusTap> {
  const nc = await connect({ servers: url, name: 'framecast-bench-tap' });
  const frames: [number, number][] = [];
  let measuring = false;
  let min = Infinity;
  let max = -Infinity;
  nc.subscribe(subject, {
    callback: (err, msg) => {
      // Only a whole frame or the first of its parts starts with the FRAME envelope and header.
      const part = err ? null : msg.headers?.get(PART_HEADER);
      if (err || (part && !part.startsWith('1/'))) return;
      const d = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.length);
      if (d.length < ENVELOPE_BYTES + 16 || d.readUInt8(0) !== MessageType.Frame) return;
      const seq = d.readUInt32BE(ENVELOPE_BYTES);
      frames.push([seq, d.readDoubleBE(ENVELOPE_BYTES + 8)]);
      if (!measuring) return;
      min = Math.min(min, seq);
      max = Math.max(max, seq);
    },
  });
  await nc.flush();
  return {
    open: () => void (measuring = true),
    write: (file) => {
      measuring = false;
      // Whole or not at all: the load generator reads the file as soon as it exists.
      writeFileSync(`${file}.tmp`, JSON.stringify({ window: [min, max], frames }));
      renameSync(`${file}.tmp`, file);
    },
    close: () => nc.close(),
  };
}
