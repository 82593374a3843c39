#!/usr/bin/env bash
# Builds the local control plane from upstream Go modules into a cache folder keyed by version:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok, kwokctl, helm.
# Skips whatever is already built. Prints the bin folder on the last line.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"

cache_root="${SFO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spot-fargate-orchestrator}"
bin="$cache_root/bin/k8s-$KUBE_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-helm-$HELM_VERSION"
work="$cache_root/build"
mkdir -p "$bin" "$work"

export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -trimpath" GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

step() { printf '[build] %s\n' "$*" >&2; }
have() { for f in "$@"; do [ -x "$bin/$f" ] || return 1; done; }
timed() {
  local name=$1; shift
  local start=$SECONDS
  step "building $name ..."
  "$@"
  step "built $name in $((SECONDS - start))s"
}

build_kubernetes() {
  local mod="$work/kubernetes-$KUBE_VERSION"
  mkdir -p "$mod"
  local staging_version="v0${KUBE_VERSION#v1}"
  local gomod
  gomod=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  {
    echo "module local/kubernetes-build"
    echo
    echo "go 1.25"
    echo
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo
    # every staging module the kubernetes go.mod replaces with ./staging/... gets its published version
    grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$gomod" |
      awk -v v="$staging_version" '{print "replace " $1 " => " $1 " " v}'
  } >"$mod/go.mod"
  cat >"$mod/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  (cd "$mod" && go mod tidy -e >/dev/null 2>&1 || true; cd "$mod" && GOFLAGS="$GOFLAGS -mod=mod" go mod download)
  local minor major
  major=$(echo "$KUBE_VERSION" | sed -E 's/^v([0-9]+)\..*/\1/')
  minor=$(echo "$KUBE_VERSION" | sed -E 's/^v[0-9]+\.([0-9]+)\..*/\1/')
  local ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags="$ldflags -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ldflags="$ldflags -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    have "$cmd" && continue
    timed "$cmd" bash -c "cd '$mod' && go build -mod=mod -ldflags '$ldflags' -o '$bin/$cmd' k8s.io/kubernetes/cmd/$cmd"
  done
}

build_etcd() {
  local mod="$work/etcd-$ETCD_VERSION"
  mkdir -p "$mod"
  cat >"$mod/go.mod" <<GOMOD
module local/etcd-build

go 1.25

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
GOMOD
  cat >"$mod/tools.go" <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
  (cd "$mod" && GOFLAGS="$GOFLAGS -mod=mod" go mod tidy >/dev/null 2>&1 || true)
  timed etcd bash -c "cd '$mod' && go build -mod=mod -ldflags '-s -w' -o '$bin/etcd' go.etcd.io/etcd/server/v3"
}

go_install() { # name package version [extra ldflags]
  local name=$1 pkg=$2 version=$3 ldflags="-s -w ${4:-}"
  have "$name" && return 0
  timed "$name" env GOBIN="$bin" go install -ldflags "$ldflags" "$pkg@$version"
}

total=$SECONDS
have kube-apiserver kube-controller-manager kube-scheduler kubectl || build_kubernetes
have etcd || build_etcd
go_install kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION"
go_install kwokctl sigs.k8s.io/kwok/cmd/kwokctl "$KWOK_VERSION"
go_install helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
step "control plane binaries ready in $((SECONDS - total))s: $bin"
echo "$bin"
