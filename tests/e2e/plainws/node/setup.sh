#!/usr/bin/env bash
# Install Node's ws package for the plain-WebSocket interop test into the git-ignored
# node_modules here, from the committed package-lock.json. Idempotent; needs Node >= 20.
set -euo pipefail
cd "$(dirname "$0")"
if [ -f node_modules/ws/package.json ]; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
