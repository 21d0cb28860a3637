/**
 * Vitest global setup: marks this test run in the environment every child inherits, and after the
 * last test fails the run if any process carrying the mark is still alive (an ffmpeg, a server, a
 * browser some test forgot). Orphans are reparented to init, so their parent cannot find them; their
 * environment can. Leftovers are killed so a failed run does not leave them behind either.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

const MARK = 'FRAMECAST_TEST_RUN';

function marked(id: string): Array<{ pid: number; cmd: string }> {
  const out: Array<{ pid: number; cmd: string }> = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'latin1');
      if (!env.includes(`${MARK}=${id}\0`)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1').slice(-400);
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z') continue; // a zombie holds nothing
      if (Number(ppid) === process.pid) continue; // vitest's own workers, still winding down
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ').trim();
      out.push({ pid, cmd });
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/** Marks the run. */
export function setup(): void {
  process.env[MARK] = randomUUID();
}

/** Fails the run if a marked process outlived the tests (after a short grace for exits in flight). */
export async function teardown(): Promise<void> {
  const id = process.env[MARK];
  if (!id || process.platform !== 'linux') return;
  let left = marked(id);
  for (let i = 0; i < 30 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    left = marked(id);
  }
  if (left.length === 0) return;
  for (const { pid } of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  throw new Error(
    `${left.length} process(es) outlived the tests (killed now):\n` +
      left.map((p) => `  ${p.pid} ${p.cmd.slice(0, 200)}`).join('\n'),
  );
}
