#!/usr/bin/env bash
# Install the Node peers of the cluster tests (socket.io 4.8, its Redis adapters and emitter,
# socket.io-client) into the git-ignored node_modules, from the committed package-lock.json.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "tests/e2e/cluster_node/node/setup.sh: Node >= 20 and npm are required" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "tests/e2e/cluster_node/node/setup.sh: Node >= 20 is required (found $(node --version))" >&2
  exit 1
fi
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi
node -e 'Promise.all(["socket.io","@socket.io/redis-adapter","@socket.io/redis-streams-adapter","@socket.io/redis-emitter","socket.io-client","redis"].map(m => import(m))).then(() => console.log("cluster node peers ready"))'
