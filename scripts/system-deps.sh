#!/usr/bin/env bash
# Installs the system packages Weft's tests and agent use, with apt, when they are missing.
set -euo pipefail
need=()
check() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
check ovs-vswitchd openvswitch-switch
check iptables iptables
check nft nftables   # and libnftables1, which the agent calls in process (agent/l3/nftables-client.ts)
check ethtool ethtool
check busybox busybox
check conntrack conntrack
check tcpdump tcpdump
check dhclient isc-dhcp-client
check ip iproute2
check setpriv util-linux   # the agent's leg commands die with it (agent/host/exec.ts diesWithAgent)
# openstacksdk for the system's python3: test/e2e/openstacksdk.test.ts drives Weft with it directly
/usr/bin/python3 -c 'import openstack' >/dev/null 2>&1 || need+=(python3-openstacksdk)
# A real Keystone served by waitress (lab/keystone.ts): test/e2e/keystone.test.ts and npm run conformance
/usr/bin/python3 -c 'import keystone' >/dev/null 2>&1 || need+=(python3-keystone)
/usr/bin/python3 -c 'import waitress' >/dev/null 2>&1 || need+=(python3-waitress)
# etcd for the etcd store (controller/store/etcd): a 3-member cluster on loopback in the tests and benchmarks
check etcd etcd-server
check ping iputils-ping
check openstack python3-openstackclient
check curl curl   # the agent's L3 dead-man watcher (agent/l3/dead-man.ts), examples/ and README
check jq jq       # examples/
check chromium chromium   # the dashboard's browser test (test/e2e/dashboard.test.ts, via playwright-core)
source "$(dirname "$0")/apt-install.sh"
install_missing "${need[@]}"
