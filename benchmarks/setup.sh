#!/usr/bin/env bash
# Install the benchmark suite's Node dependencies (into git-ignored node_modules/ folders, from
# the committed package-lock.json files) and compile the NestJS peer with tsc.
# Run from anywhere; needs Node >= 20 and npm. Idempotent.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup.sh: Node >= 20 and npm are required" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "setup.sh: Node >= 20 is required (found $(node --version))" >&2
  exit 1
fi

for dir in load peers/socketio peers/nestjs; do
  echo "== npm ci in benchmarks/$dir"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
done

echo "== tsc: benchmarks/peers/nestjs"
(cd peers/nestjs && rm -rf dist && npx --no-install tsc -p tsconfig.json)

# The harness draws its chart with matplotlib; install it into the active virtualenv only.
if python -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)' 2>/dev/null; then
  python -c 'import matplotlib' 2>/dev/null || python -m pip install --quiet matplotlib
else
  python3 -c 'import matplotlib' 2>/dev/null ||
    echo "note: activate the project's virtualenv and 'pip install matplotlib' for the chart"
fi
echo "ready: python -m benchmarks.run --quick"
