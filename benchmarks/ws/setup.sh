#!/usr/bin/env bash
# Install the plain WebSocket benchmark's Node packages (NestJS 12 + @nestjs/platform-ws, ws)
# into the git-ignored benchmarks/ws/node_modules, from the committed lock. Idempotent.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
echo "ready: python -m benchmarks.ws.run --reps 1 --duration 1"
