#!/usr/bin/env bash
# Refreshes tests/schemas/ from the npm registry (see tests/schemas/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null && tar xzf ./*.tgz)
cp "$tmp/package/lib/schemas/sarif-2.1.0-rtm.5.json" tests/schemas/
echo "tests/schemas/sarif-2.1.0-rtm.5.json updated"
