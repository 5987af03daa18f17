#!/usr/bin/env bash
# Installs the system packages vipkeeper's tests and lab need, only when they are missing.
set -euo pipefail
need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v make >/dev/null 2>&1 || need+=(make)
command -v pgrep >/dev/null 2>&1 || need+=(procps)   # pgrep, sysctl: lab and announce tests
command -v flock >/dev/null 2>&1 || need+=(util-linux) # hack/build.sh
if [ ${#need[@]} -eq 0 ]; then
  echo "deps: up to date"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing ${need[*]}; install them as root (apt-get install ${need[*]})" >&2
  exit 1
fi
echo "deps: installing ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
