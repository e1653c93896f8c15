#!/usr/bin/env bash
# Install the official AsyncAPI parser, TypeScript and socket.io-client (for its types) into
# the git-ignored tests/contracts/node_modules, from the committed package-lock.json.
# Idempotent (skips when installed); needs Node >= 20.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "tests/contracts/setup.sh: Node >= 20 and npm are required" >&2
  exit 1
fi
if [ -f node_modules/@asyncapi/parser/package.json ] && [ -x node_modules/.bin/tsc ] \
   && [ -f node_modules/socket.io-client/package.json ]; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
node -e 'import("@asyncapi/parser").then(m => console.log("@asyncapi/parser ready:", typeof m.Parser))'
