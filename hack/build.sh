#!/usr/bin/env bash
# Builds the real control plane used by internal/testenv: bin/etcd and bin/kube-apiserver,
# from the Go modules pinned in hack/etcd and hack/kube (no downloads of prebuilt binaries).
#
# A warm run builds nothing: each binary has a stamp (bin/<name>.stamp) holding the sha256 of
# the Go version, the build flags and its module's go.mod + go.sum. A binary is rebuilt only
# when it is missing or its stamp differs. Never run `go mod tidy` in hack/etcd or hack/kube:
# no Go file imports those modules, so tidy would drop the requirements.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="$root/bin"
# -s -w shortens the link step. No -trimpath: it would change every compile cache key and
# turn a re-link into a cold build of kube-apiserver (minutes on two cores).
ldflags='-s -w'

stamp_of() { # module dir, ldflags -> sha256 of everything that decides the binary
	{ go version; echo "ldflags=$2"; cat "$1/go.mod" "$1/go.sum"; } | sha256sum | cut -d' ' -f1
}

kube_ldflags() { # stamp the release into kube-apiserver's /version (a plain go build says v0.0.0-master)
	local v
	v=$(cd "$root/hack/kube" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
	local major=${v#v} minor
	minor=${major#*.}
	echo "$ldflags -X k8s.io/component-base/version.gitVersion=$v" \
		"-X k8s.io/component-base/version.gitMajor=${major%%.*}" \
		"-X k8s.io/component-base/version.gitMinor=${minor%%.*}" \
		"-X k8s.io/component-base/version.gitTreeState=clean"
}

build() { # name, module dir, main package, ldflags
	local name=$1 dir=$2 pkg=$3 flags=$4 want
	want=$(stamp_of "$dir" "$flags")
	if [[ -x "$bin/$name" && -f "$bin/$name.stamp" && "$(<"$bin/$name.stamp")" == "$want" ]]; then
		echo "$name: up to date"
		return
	fi
	echo "$name: building $pkg (minutes when the build cache is cold)"
	rm -f "$bin/$name.stamp"
	# Build next to the target and rename, so a test never runs a half-written binary.
	(cd "$dir" && go build -ldflags="$flags" -o "$bin/.$name.tmp" "$pkg")
	mv -f "$bin/.$name.tmp" "$bin/$name"
	echo "$want" >"$bin/$name.stamp"
}

mkdir -p "$bin"
# One build at a time, even when two callers (make, CI steps) start this script together.
exec 9>"$bin/.build.lock"
flock 9
build etcd "$root/hack/etcd" go.etcd.io/etcd/server/v3 "$ldflags"
build kube-apiserver "$root/hack/kube" k8s.io/kubernetes/cmd/kube-apiserver "$(kube_ldflags)"
