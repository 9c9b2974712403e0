#!/usr/bin/env bash
# What `npm run conformance` needs besides the test suite's packages (which bring Keystone):
# Tempest and neutron-tempest-plugin, from Debian, installed with apt when missing.
set -euo pipefail
bash "$(dirname "$0")/system-deps.sh"
need=()
command -v tempest >/dev/null 2>&1 || need+=(tempest)
/usr/bin/python3 -c 'import neutron_tempest_plugin' >/dev/null 2>&1 || need+=(neutron-tempest-plugin)
command -v stestr >/dev/null 2>&1 || need+=(python3-stestr)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "weft: missing packages for the conformance run: ${need[*]} (run as root to install them with apt)" >&2
  exit 1
fi
echo "weft: installing with apt: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
