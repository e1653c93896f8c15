#!/usr/bin/env bash
# Install Node's official socket.io-client for the interop tests into the git-ignored
# tests/interop/node_modules, from the committed package-lock.json. Idempotent; needs Node >= 20.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "tests/interop/setup.sh: Node >= 20 and npm are required" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "tests/interop/setup.sh: Node >= 20 is required (found $(node --version))" >&2
  exit 1
fi
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi
node -e 'import("socket.io-client").then(m => console.log("socket.io-client ready:", typeof m.io))'
