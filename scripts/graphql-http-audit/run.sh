#!/usr/bin/env bash
# Installs the audit's npm packages (into this folder's node_modules, which git ignores)
# and audits the server at $1 (default http://127.0.0.1:8080/graphql).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
if [ ! -d node_modules/graphql-http ]; then
  npm install --no-audit --no-fund --loglevel=error >/dev/null
fi
node audit.mjs "${1:-http://127.0.0.1:8080/graphql}"
