#!/usr/bin/env bash
# Installs the system packages vipkeeper's tests and lab need, only when they are missing.
set -euo pipefail
need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v make >/dev/null 2>&1 || need+=(make)
command -v pgrep >/dev/null 2>&1 || need+=(procps)   # pgrep, sysctl: lab and announce tests
command -v flock >/dev/null 2>&1 || need+=(util-linux) # hack/build.sh
[ -x /usr/lib/frr/bgpd ] && command -v vtysh >/dev/null 2>&1 || need+=(frr) # BGP lab: FRR's bgpd and zebra
command -v bird >/dev/null 2>&1 && command -v birdc >/dev/null 2>&1 || need+=(bird2) # BGP lab: BIRD 2
if [ ${#need[@]} -eq 0 ]; then
  echo "deps: up to date"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing ${need[*]}; install them as root (apt-get install ${need[*]})" >&2
  exit 1
fi
echo "deps: installing ${need[*]}"
# The routers' packages would start system services; the lab starts its own daemons in
# network namespaces. A policy-rc.d that exits 101 tells invoke-rc.d to start nothing.
rcd=/usr/sbin/policy-rc.d
if [ ! -e "$rcd" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$rcd"
  chmod +x "$rcd"
  trap 'rm -f "$rcd"' EXIT
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
