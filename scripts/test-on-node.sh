#!/usr/bin/env bash
# Runs every test (`npm test`) of the committed tree (HEAD) on another Node.js major, e.g. the image's
# or the next LTS: `scripts/test-on-node.sh 24`. The tree is copied to a temporary directory, whose
# dependencies are installed by that Node (better-sqlite3 built against its headers); the real
# components come from scripts/install-test-deps.sh as usual. Extra arguments go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."

major=${1:?usage: scripts/test-on-node.sh <node major> [vitest arguments]}
shift
[ "$(node -p 'process.versions.node.split(".")[0]')" != "$major" ] || { echo "test-on-node: this machine runs Node $major: use npm test" >&2; exit 1; }
scripts/install-node.sh "$major"
bin=$(realpath ".tmp/node-$major/node_modules/node-linux-$(node -p process.arch)/bin")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git archive HEAD | tar -x -C "$work"
cd "$work"
export PATH="$bin:$PATH" npm_config_nodedir="${bin%/bin}"
echo "test-on-node: $(node --version) in $work"
npm ci --no-audit --no-fund
# The image's Node too, unless it is this one: test/e2e/image.test.ts runs the image on it.
scripts/install-node.sh
npm run lint
npx vitest run "$@"
