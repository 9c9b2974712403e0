#!/usr/bin/env bash
# Story: two tenants, the same addresses, no way across.
#
# Projects alice and bob each get a network with the SAME subnet, 10.0.0.0/24, and two VMs. Each
# project's VMs reach each other; alice's VMs cannot reach bob's, even at an address that exists
# only in bob's network, and a shared address (10.0.0.11, in both projects) answers each project
# from its own VM.
#
# Run it as root against `npm start` (README, Quick start), with the quick start's environment:
#   export OS_AUTH_TYPE=admin_token OS_ENDPOINT=http://127.0.0.1:9696 OS_TOKEN=$(cat data/admin-token)
#   export PATH="$PWD/bin:$PATH"
#   bash examples/isolated-tenants.sh
# VM namespaces are named $WEFT_EXAMPLE_PREFIX-... (default: ex-...). Everything the script makes
# is removed when it ends, whether it succeeds or fails, so it can be run again.
source "$(dirname "$0")/lib.sh"

# Resources of other projects are made with curl (`api`, lib.sh): the openstack CLI resolves
# --project through Keystone, which Weft's admin-token setup does not have, and the admin token is
# accepted for any project id.

drop_default_group() {
  local id
  for id in $(api GET "/security-groups?project_id=$1&name=default" | jq -r '.security_groups[].id'); do api DELETE "/security-groups/$id"; done
}

declare -A NET # project -> its network's id
# tenant PROJECT: a network PROJECT-net with subnet PROJECT-sub 10.0.0.0/24, owned by PROJECT.
tenant() {
  local net
  # The project's default security group comes with its first network or port (as in Neutron, it
  # is made when first needed, and again if removed): it goes at the end too.
  later drop_default_group "$1"
  net=$(api POST /networks "{\"network\": {\"name\": \"$1-net\", \"project_id\": \"$1\"}}" | jq -r .network.id)
  later api DELETE "/networks/$net"
  NET[$1]=$net
  api POST /subnets "{\"subnet\": {\"name\": \"$1-sub\", \"project_id\": \"$1\", \"network_id\": \"$net\", \"ip_version\": 4, \"cidr\": \"10.0.0.0/24\"}}" >/dev/null
  echo "   network $1-net ($net), subnet $1-sub 10.0.0.0/24, project $1"
}

# vm PROJECT NAME IP: a port NAME with address IP on PROJECT-net, plugged into namespace $P-NAME.
vm() {
  local port
  port=$(api POST /ports "{\"port\": {\"name\": \"$2\", \"project_id\": \"$1\", \"network_id\": \"${NET[$1]}\", \"fixed_ips\": [{\"ip_address\": \"$3\"}]}}" | jq -r .port.id)
  later api DELETE "/ports/$port"
  later weft unplug "$P-$2"
  weft plug "$port" --name "$P-$2" | sed -n '1s/^/   /p'
}

# ping_from VM IP: one quiet ping (the reply's TTL and the sender's ARP table tell who answered).
ping_from() { ip netns exec "$P-$1" ping -c 2 -W 1 -q "$2" >/dev/null 2>&1; }
mac_of() { ip netns exec "$P-$1" cat /sys/class/net/eth0/address; }
neighbour_mac() { ip -n "$P-$1" neigh show "$2" dev eth0 | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}'; }

step "Two projects, alice and bob, each with its own network and the SAME subnet 10.0.0.0/24"
tenant alice
tenant bob
proves "overlapping address space is allowed: each subnet belongs to its own network"

step "Two VMs per project: alice1 10.0.0.11 and alice2 10.0.0.12; bob1 10.0.0.11 and bob2 10.0.0.13"
vm alice alice1 10.0.0.11
vm alice alice2 10.0.0.12
vm bob bob1 10.0.0.11
vm bob bob2 10.0.0.13
proves "10.0.0.11 exists twice, once in each project"

step "alice1 pings alice2 (10.0.0.12), bob1 pings bob2 (10.0.0.13)"
ping_from alice1 10.0.0.12 || { echo "   alice1 could not reach alice2" >&2; exit 1; }
echo "   alice1 -> 10.0.0.12: answered"
ping_from bob1 10.0.0.13 || { echo "   bob1 could not reach bob2" >&2; exit 1; }
echo "   bob1 -> 10.0.0.13: answered"
proves "each project's VMs reach each other on their own network"

step "The shared address 10.0.0.11 answers each project from its own VM"
ping_from alice2 10.0.0.11 || { echo "   alice2 could not reach 10.0.0.11" >&2; exit 1; }
seen=$(neighbour_mac alice2 10.0.0.11)
echo "   alice2 -> 10.0.0.11: answered by MAC $seen (alice1 is $(mac_of alice1), bob1 is $(mac_of bob1))"
[ "$seen" = "$(mac_of alice1)" ] || { echo "   10.0.0.11 answered alice2 from $seen, not from alice1" >&2; exit 1; }
ping_from bob2 10.0.0.11 || { echo "   bob2 could not reach 10.0.0.11" >&2; exit 1; }
seen=$(neighbour_mac bob2 10.0.0.11)
echo "   bob2 -> 10.0.0.11: answered by MAC $seen"
[ "$seen" = "$(mac_of bob1)" ] || { echo "   10.0.0.11 answered bob2 from $seen, not from bob1" >&2; exit 1; }
proves "the same address is two different VMs: alice reaches alice1, bob reaches bob1"

step "alice1 pings 10.0.0.13 (only bob2 has it); bob2 pings 10.0.0.12 (only alice2 has it)"
if ping_from alice1 10.0.0.13; then echo "   alice1 reached bob2's 10.0.0.13: the projects are NOT isolated" >&2; exit 1; fi
echo "   alice1 -> 10.0.0.13: no answer"
if ping_from bob2 10.0.0.12; then echo "   bob2 reached alice2's 10.0.0.12: the projects are NOT isolated" >&2; exit 1; fi
echo "   bob2 -> 10.0.0.12: no answer"
proves "a VM of one project does not reach the other project's VMs"

echo
echo "OK: isolated tenants (same subnet 10.0.0.0/24 in alice and bob, each reaches only its own VMs)"
