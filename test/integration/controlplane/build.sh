#!/usr/bin/env bash
# Builds the integration tier's control plane from the Go module proxy, once, and caches it:
#   kube-apiserver, kube-controller-manager, kube-scheduler (k8s.io/kubernetes v1.35.4, every
#   k8s.io staging module pinned to v0.35.4 by replace directives: the kubernetes module's own
#   replaces point into its source tree and are ignored in a dependent module),
#   etcd (go.etcd.io/etcd/server/v3 v3.6.5, the version Kubernetes 1.35 requires),
#   kwok (sigs.k8s.io/kwok v0.7.0, simulated nodes).
# Each binary comes from a module of its own (kube/, etcd/, kwok/) so that one module's
# requirements never raise another's (kwok 0.7.0 is built against k8s.io v0.33).
# The cache lives outside the repository, keyed by the modules' go.mod/go.sum, so a clean clone
# on the same machine reuses it: ${HELLO_WEB_CACHE:-~/.cache/hello-web}/controlplane/<key>/bin.
# Prints the bin directory on stdout; progress on stderr. First build: about 30 min on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
key=$(cd "$here" && cat kube/go.mod kube/go.sum etcd/go.mod etcd/go.sum kwok/go.mod kwok/go.sum | sha256sum | cut -c1-16)
cache="${HELLO_WEB_CACHE:-$HOME/.cache/hello-web}/controlplane/v1.35.4-$key"
bins=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok)
complete=true
for b in "${bins[@]}"; do [ -x "$cache/bin/$b" ] || complete=false; done
if $complete; then echo "$cache/bin"; exit 0; fi

mkdir -p "$cache/bin"
log() { printf '[controlplane %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
build() { # build <module dir> <package> <output name>
  local dir=$1 pkg=$2 out=$3 start=$SECONDS
  if [ -x "$cache/bin/$out" ]; then log "$out: cached"; return 0; fi
  log "$out: building $pkg (first build of the control plane takes about 30 min on 2 cores)"
  # Progress: go build is silent for minutes; with -v it names each package it compiles (on stderr),
  # so the heartbeat can say how many it has compiled so far. The same file keeps the compiler's errors.
  local vlog="$cache/bin/.$out.build.log"
  : > "$vlog"
  ( while sleep 30; do log "$out: still building ($((SECONDS - start)) s, $(grep -c . "$vlog") packages compiled)"; done ) &
  local beat=$!
  # -trimpath and no debug info: smaller binaries, faster links; the build cache does the rest.
  if (cd "$here/$dir" && GOFLAGS=-mod=readonly go build -v -trimpath -ldflags='-s -w' -o "$cache/bin/.$out.tmp" "$pkg") 2>>"$vlog"; then
    kill "$beat" 2>/dev/null; wait "$beat" 2>/dev/null || true
    mv "$cache/bin/.$out.tmp" "$cache/bin/$out"
    log "$out: built in $((SECONDS - start)) s ($(grep -c . "$vlog") packages compiled)"
    rm -f "$vlog"
  else
    kill "$beat" 2>/dev/null; wait "$beat" 2>/dev/null || true
    log "$out: build FAILED; the last lines of go build's output:"
    tail -n 30 "$vlog" >&2
    return 1
  fi
}
build etcd go.etcd.io/etcd/server/v3 etcd
build kwok sigs.k8s.io/kwok/cmd/kwok kwok
build kube k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver
build kube k8s.io/kubernetes/cmd/kube-controller-manager kube-controller-manager
build kube k8s.io/kubernetes/cmd/kube-scheduler kube-scheduler
echo "$cache/bin"
