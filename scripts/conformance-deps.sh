#!/usr/bin/env bash
# What `npm run conformance` needs besides the test suite's packages (which bring Keystone):
# Tempest and neutron-tempest-plugin, from Debian, installed with apt when missing.
set -euo pipefail
bash "$(dirname "$0")/system-deps.sh"
need=()
command -v tempest >/dev/null 2>&1 || need+=(tempest)
/usr/bin/python3 -c 'import neutron_tempest_plugin' >/dev/null 2>&1 || need+=(neutron-tempest-plugin)
command -v stestr >/dev/null 2>&1 || need+=(python3-stestr)
source "$(dirname "$0")/apt-install.sh"
install_missing "${need[@]}"
