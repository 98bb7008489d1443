#!/usr/bin/env bash
# npm run image: builds berth:dev on the engine DOCKER_HOST names. Uses the official Node.js 20 image
# when the engine has it or can pull it, otherwise a base made from this host (make-local-base.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-berth:dev}"
base="node:20-bookworm-slim"
if ! docker image inspect "$base" >/dev/null 2>&1 && ! docker pull -q "$base" >/dev/null 2>&1; then
  base="$(image/make-local-base.sh)"
fi
[ -x node_modules/.bin/tsc ] || npm ci --no-audit --no-fund
docker build -q --build-arg "BASE=$base" --build-arg "VERSION=$(node -p 'require("./package.json").version')" -t "$tag" . >/dev/null
echo "$tag (base $base)"
