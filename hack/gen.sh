#!/usr/bin/env bash
# Regenerates what the kubebuilder markers in api/ describe: the deepcopy functions
# (api/v1alpha1/zz_generated.deepcopy.go) and the CRD manifest (charts/vipkeeper/crds/, which
# make manifests copies to deploy/crds/). All are
# committed, so building and testing never need this script.
#
# controller-gen runs as `go run pkg@version`, which keeps controller-tools (and the
# controller-runtime it pulls in) out of go.mod. The first run downloads and builds it
# (about two minutes on two cores); later runs hit the build cache.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=${CONTROLLER_GEN_VERSION:-v0.23.0}
cd "$root"
gen() { go run "sigs.k8s.io/controller-tools/cmd/controller-gen@$version" "$@"; }
gen object paths=./api/...
gen crd paths=./api/... output:crd:artifacts:config=charts/vipkeeper/crds
(cd hack/helm && go run . template) # deploy/ (crds/ included) is rendered from the chart
gofmt -l api/ | (! grep .) || { echo "gen.sh: generated Go code is not gofmt-clean" >&2; exit 1; }
