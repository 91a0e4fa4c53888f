#!/usr/bin/env bash
# Benchmark: `agentops validate` over a GitOps tree (default ../shared/corpus/gitops) against a
# plain sequential `kubectl kustomize` loop over the same kustomizations, in one run:
#   1. the sequential loop (render only);
#   2. agentops validate, cold cache (render + parse + policies, in parallel);
#   3. agentops validate, warm cache (nothing changed);
#   4. agentops validate after touching one file in one base (only what it affects re-renders).
# Needs a release build: cargo build --release.
set -euo pipefail
cd "$(dirname "$0")/.."
TREE="$(realpath "${1:-../shared/corpus/gitops}")"
BIN="$PWD/target/release/agentops"
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 2; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp -r "$TREE" "$WORK/tree"
chmod -R u+w "$WORK/tree"
export HOME="$WORK/home"   # an empty render cache
mkdir -p "$HOME"
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }

mapfile -t dirs < <(find "$WORK/tree" \( -name kustomization.yaml -o -name kustomization.yml -o -name Kustomization \) -printf '%h\n' | sort -u)
t0=$(now)
for d in "${dirs[@]}"; do kubectl kustomize "$d" >/dev/null 2>&1 || true; done
t1=$(now)
(cd "$WORK/tree" && "$BIN" validate --format json >"$WORK/cold.json" || true)
t2=$(now)
(cd "$WORK/tree" && "$BIN" validate --format json >"$WORK/warm.json" || true)
t3=$(now)
base=$(dirname "$(find "$WORK/tree" -path '*kustomize/examples/multibases/base/*.yaml' -print -quit)")
[ -n "$base" ] || base="${dirs[0]}"
echo "# touched" >> "$(find "$base" -maxdepth 1 -name '*.yaml' ! -name 'kustomization.yaml' -print -quit)"
t4=$(now)
(cd "$WORK/tree" && "$BIN" validate --format json >"$WORK/touched.json" || true)
t5=$(now)

objects=$(python3 -c "import json; print(json.load(open('$WORK/cold.json'))['summary']['objects'])")
rerendered=$(python3 -c "import json; print(sum(1 for o in json.load(open('$WORK/touched.json'))['overlays'] if not o['cached']))")
printf 'kustomizations:                        %d\n' "${#dirs[@]}"
printf 'sequential kubectl kustomize loop:     %6.2f s (render only)\n' "$(secs "$t0" "$t1")"
printf 'agentops validate, cold cache:         %6.2f s (render + parse + policies)\n' "$(secs "$t1" "$t2")"
printf 'agentops validate, warm cache:         %6.2f s\n' "$(secs "$t2" "$t3")"
printf 'after touching one file in one base:   %6.2f s (%d re-rendered)\n' "$(secs "$t4" "$t5")" "$rerendered"
printf 'objects checked:                       %d\n' "$objects"
