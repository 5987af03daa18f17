#!/usr/bin/env bash
# Installs the system packages vipkeeper's tests and lab need, only when they are missing.
set -euo pipefail
need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v make >/dev/null 2>&1 || need+=(make)
command -v pgrep >/dev/null 2>&1 || need+=(procps)   # pgrep, sysctl: lab and announce tests
command -v flock >/dev/null 2>&1 || need+=(util-linux) # hack/build.sh
command -v keepalived >/dev/null 2>&1 || need+=(keepalived) # the control-plane lab's comparison
command -v curl >/dev/null 2>&1 || need+=(curl)             # keepalived's kube-apiserver check
[ -x /usr/lib/frr/bgpd ] && command -v vtysh >/dev/null 2>&1 || need+=(frr) # BGP lab: FRR's bgpd and zebra
command -v bird >/dev/null 2>&1 && command -v birdc >/dev/null 2>&1 || need+=(bird2) # BGP lab: BIRD 2
command -v spin >/dev/null 2>&1 || need+=(spin)             # internal/model: the ride-through model checker
command -v gcc >/dev/null 2>&1 || need+=(gcc)               # spin's preprocessor and verifier (and the race detector's cgo)
if [ ${#need[@]} -eq 0 ]; then
  echo "deps: up to date"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing ${need[*]}; install them as root (apt-get install ${need[*]})" >&2
  exit 1
fi
echo "deps: installing ${need[*]}"
# Packages such as keepalived start their service on install; nothing may start here. A
# policy-rc.d that says 101 ("action forbidden") stops invoke-rc.d; ours is removed after.
own_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  own_policy=1
fi
trap 'if [ -n "$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
