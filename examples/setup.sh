#!/usr/bin/env bash
# Install the official socket.io browser client (npm's socket.io-client, whose
# dist/socket.io.min.js the example pages load from their own server) into the git-ignored
# examples/node_modules, from the committed package-lock.json. Idempotent; needs npm.
set -euo pipefail
cd "$(dirname "$0")"

bundle=node_modules/socket.io-client/dist/socket.io.min.js
if [ -f "$bundle" ]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "examples/setup.sh: npm is required to fetch the socket.io browser client" >&2
  exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
test -f "$bundle"
echo "examples/setup.sh: $bundle ready"
