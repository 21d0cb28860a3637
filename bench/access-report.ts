import type { AccessRows } from './access.js';
import { table } from './lib/markdown.js';

const f0 = (x: number): string => x.toFixed(0);
const f1 = (x: number): string => x.toFixed(1);
const f2 = (x: number): string => x.toFixed(2);
const load = (l: number[]): string => l.map(f2).join(' ');
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** What each variant's client presents. */
const HOW: Record<string, string> = {
  'no auth': 'nothing (no `auth:` section; the stream open to all)',
  users: 'HTTP Basic / `USER:PASSWORD`, scrypt hash verified before (cached)',
  JWT: 'ES256 JWT (JWKS file), `Authorization: Bearer` / hello token',
  'HTTP hook': 'an opaque token the hook allows (answers cached)',
  'signed link': '`fcl1.` link, `Authorization: Bearer` / hello token',
};

/** The access section as Markdown: one row per variant and transport, then the first login. */
export function accessTables(a: AccessRows): string {
  const out: string[] = [];
  out.push(
    `\n**Access: admission cost per connection** (five servers, one per variant, each \`serve --config\` in its own ` +
      `process with one publisher stream fed at 2 fps; every connection new: a snapshot GET ` +
      `(\`agent: false\`) to its last byte, or a native hello to its WELCOME, one after another, then 8 clients at once ` +
      `(each one after another); ${a.connections} connections per ` +
      `variant and transport per round, the variants taking turns over ${a.rounds} rounds; wall time per admission ` +
      `(p50, p99: each the median of the rounds'), server CPU of all its threads from /proc/PID/task/*/schedstat ` +
      `per connection less what it spends idle (median of the rounds'; its log on, a few lines per connection); load average ${load(a.loadStart)} at its start, ${load(a.loadEnd)} ` +
      'at its end)\n',
  );
  out.push(
    table(
      [
        'variant',
        'credential',
        'transport',
        'p50 (ms)',
        'p99 (ms)',
        'server CPU per connection (µs)',
        'p50 / CPU vs no auth',
      ],
      a.rows.map((r) => [
        r.variant,
        HOW[r.variant] ?? '-',
        `${r.transport === 'snapshot' ? 'snapshot GET' : 'native hello'}${r.parallel > 1 ? `, ${r.parallel} at once` : ''}`,
        f2(r.p50Ms),
        f1(r.p99Ms),
        `${f0(r.cpuUsPerConnection)} (rounds: ${r.cpuUsByRound.map(f0).join(', ')})`,
        r.variant === 'no auth' ? '1 / 1' : `${f2(r.p50Ratio)} / ${f2(r.cpuRatio)}`,
      ]),
    ),
  );
  const fl = a.firstLogin;
  out.push(
    `\nA user's first login (HTTP Basic on a snapshot GET, one scrypt at ln=${a.scryptLn}, r=8: 32 MiB): ` +
      `${f0(median(fl.wallMs))} ms wall and ${f0(median(fl.cpuMs))} ms of server CPU (median of ${fl.wallMs.length}, ` +
      `each a user not seen before: ${fl.wallMs.map(f0).join(', ')} ms wall); later logins of the same user and ` +
      `password hit the server's cache of verified passwords (the users rows). The hook server received ` +
      `${a.hookRequests} requests for ${a.hookAdmissions} admissions through it (its answers cached ` +
      `${a.hookCacheSeconds} s, per transport). Idle, each server spent ${Object.entries(a.idleCpuMsPerSecond)
        .map(([v, x]) => `${v} ${f1(x)}`)
        .join(', ')} ms of CPU per second (taken off the rows above).`,
  );
  return out.join('\n');
}
