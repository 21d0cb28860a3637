// Builds framecast's native JPEG encoder (native/yuv_jpeg.c) with node-gyp. Optional: without a C
// compiler or libjpeg-turbo's headers, framecast encodes through sharp instead, and this says so in
// one line. FRAMECAST_REQUIRE_NATIVE=1 makes a failed build an error (CI uses it).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const required = process.env.FRAMECAST_REQUIRE_NATIVE === '1';

if (process.env.FRAMECAST_NATIVE === '0' && !required) {
  console.error('framecast: native JPEG encoder skipped (FRAMECAST_NATIVE=0)');
  process.exit(0);
}

/** node-gyp: the one npm runs scripts with, else the one bundled with npm next to this node. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(
      path.dirname(process.execPath),
      '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    ),
  ];
  return candidates.find((p) => p && existsSync(p)) ?? null;
}

const gyp = nodeGyp();
const args = ['rebuild', '--directory', path.join(root, 'native')];
// Node's own headers, when installed beside it, spare node-gyp a download.
const prefix = path.resolve(path.dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(path.join(prefix, 'include/node/node_api.h')))
  args.push(`--nodedir=${prefix}`);

const result = gyp
  ? spawnSync(process.execPath, [gyp, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  : null;
if (result && result.status === 0) {
  console.error('framecast: native JPEG encoder built (libjpeg-turbo, 4:2:0 input)');
  process.exit(0);
}

const why = !gyp
  ? 'node-gyp not found'
  : (`${result.stderr}\n${result.stdout}`
      .split('\n')
      .find(
        (l) =>
          /error|not found|No such file/i.test(l) &&
          !/^gyp (info|ERR! (stack|System|command|cwd|node|not ok))/.test(l),
      )
      ?.trim() ?? `node-gyp exit code ${result.status}`);
console.error(
  `framecast: native JPEG encoder not built (${why}); encoding through sharp instead. ` +
    'It needs a C compiler and libjpeg-turbo headers (Debian: apt-get install build-essential libjpeg62-turbo-dev).',
);
if (required) {
  console.error(result ? `${result.stdout}\n${result.stderr}` : '');
  process.exit(1);
}
