import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Frame } from '../../../src/hub/frame.js';
import {
  encodeLegacyFrame,
  LEGACY_HEADER_BYTES,
  legacyWire,
} from '../../../src/transports/tcp/legacy-framing.js';

/** What the seed's servidor.py sends for these bytes: struct.pack('>L', len(m)) + m, m = base64(jpeg). */
function pythonFraming(payloads: Buffer[]): Buffer[] {
  const script =
    'import sys, struct, base64\n' +
    'for line in sys.stdin.read().split():\n' +
    '    m = base64.b64encode(bytes.fromhex(line))\n' +
    '    sys.stdout.write((struct.pack(">L", len(m)) + m).hex() + "\\n")\n';
  const input = payloads.map((p) => (p.length ? p.toString('hex') : '')).join('\n');
  // An empty payload would vanish in split(); the test does not send one to Python.
  const r = spawnSync(process.env.SEED_PYTHON || '/usr/bin/python3', ['-c', script], {
    input,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout
    .trim()
    .split('\n')
    .map((h) => Buffer.from(h, 'hex'));
}

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + seed * 17 + (i >> 3)) & 0xff;
  return b;
}

describe('encodeLegacyFrame', () => {
  it("is byte-identical to Python's struct.pack('>L') + base64 for every length mod 3", () => {
    const payloads = [1, 2, 3, 4, 5, 6, 255, 256, 257, 4096, 70_001].map((n, i) => bytes(n, i));
    payloads.push(Buffer.from([0xff, 0xd8, 0xff, 0xd9]));
    const ours = payloads.map(encodeLegacyFrame);
    expect(ours).toEqual(pythonFraming(payloads));
  });

  it('writes a big-endian length of the base64 text, then the text', () => {
    const out = encodeLegacyFrame(Buffer.from('hello'));
    expect(LEGACY_HEADER_BYTES).toBe(4);
    expect([...out.subarray(0, 4)]).toEqual([0, 0, 0, 8]);
    expect(out.subarray(4).toString('latin1')).toBe('aGVsbG8=');
  });

  it('frames an empty payload as a zero length', () => {
    expect([...encodeLegacyFrame(Buffer.alloc(0))]).toEqual([0, 0, 0, 0]);
  });
});

describe('legacyWire', () => {
  it('builds the wire form once per frame and shares it', () => {
    const f = new Frame({ seq: 0, width: 2, height: 2, capturedAt: 0, encodedAt: 0, jpeg: bytes(100, 1) });
    const a = legacyWire(f);
    const b = legacyWire(f);
    expect(b).toBe(a);
    expect(a).toEqual(encodeLegacyFrame(f.jpeg));
  });
});
