#!/usr/bin/env bash
# Builds the Go test tools under test/tools/go/<tool>/ (each its own Go module, a main package, resolved
# through the Go module proxy) into the cache folder, keyed by a hash of the tool's files and the Go version,
# so a tool is rebuilt only when its sources change. A tool folder may hold a file `main-package` naming the
# package to build (e.g. an upstream `cmd/...` the module requires) instead of the folder itself, and a file
# `build-tags` the Go build tags to build it with (e.g. to leave out parts of an upstream tool no test uses).
# Prints one line per tool: `<tool> <path of the binary>`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache_root="${SFO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spot-fargate-orchestrator}"
export CGO_ENABLED=0 GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
go_version=$(go env GOVERSION)

for dir in "$here"/go/*/; do
  [ -f "$dir/go.mod" ] || continue
  tool=$(basename "$dir")
  key=$( (echo "$go_version"; cd "$dir" && find . -type f | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -c1-12)
  out="$cache_root/go-tools/$tool-$key/$tool"
  if [ ! -x "$out" ]; then
    pkg=.
    [ -f "$dir/main-package" ] && pkg=$(tr -d '[:space:]' <"$dir/main-package")
    tags=""
    [ -f "$dir/build-tags" ] && tags=$(tr -s '[:space:]' ',' <"$dir/build-tags" | sed 's/^,//; s/,$//')
    start=$SECONDS
    printf '[build] building %s ...\n' "$tool" >&2
    mkdir -p "$(dirname "$out")"
    (cd "$dir" && go build -mod=mod -trimpath -tags "$tags" -ldflags "-s -w" -o "$out.tmp.$$" "$pkg")
    mv "$out.tmp.$$" "$out"
    printf '[build] built %s in %ss\n' "$tool" "$((SECONDS - start))" >&2
    # keep the three newest builds of this tool (other checkouts may still use an older one)
    ls -dt "$cache_root/go-tools/$tool"-????????????/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
  fi
  echo "$tool $out"
done
