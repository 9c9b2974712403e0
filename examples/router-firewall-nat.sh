#!/usr/bin/env bash
# Story: a router between a tenant network and the outside: SNAT, a port forwarding, a firewall.
#
# A VM behind router nat-router reaches this machine (172.24.4.1) through SNAT, seen from here
# with the router's gateway address. A floating IP forwards its tcp port 2222 to the VM's name
# server on tcp 7000. Then a router firewall (FWaaS v2) on the router's interface into the
# subnet denies tcp 7000 toward the subnet: the forwarded port stops answering while the VM still
# reaches the outside; the rule is then turned into an allow, and the forwarded port answers again.
#
# Run it as root against `npm start` (README, Quick start), with the quick start's environment:
#   export OS_AUTH_TYPE=admin_token OS_ENDPOINT=http://127.0.0.1:9696 OS_TOKEN=$(cat data/admin-token)
#   export PATH="$PWD/bin:$PATH"
#   bash examples/router-firewall-nat.sh
# It uses the external network `public` of the quick start, and makes it (flat on physical network
# public, 172.24.4.0/24, gateway 172.24.4.1: this machine) when it is not there. It listens on
# 172.24.4.1:7070 for a moment. VM namespaces are named $WEFT_EXAMPLE_PREFIX-... (default: ex-...).
# Everything the script makes is removed when it ends, whether it succeeds or fails, so it can be
# run again.
source "$(dirname "$0")/lib.sh"
VM=$P-nat

silent() { [ -z "$(ask "$1" "$2")" ]; }
vm_pings() { ip netns exec "$VM" ping -c 1 -W 1 "$1" >/dev/null 2>&1; }
# who_calls: what this machine's server on 172.24.4.1:7070 says to the VM (the address it sees).
who_calls() { ip netns exec "$VM" timeout 2 bash -c 'exec 3<>/dev/tcp/172.24.4.1/7070 && cat <&3' 2>/dev/null || true; }
called_back() { [ -n "$(who_calls)" ]; }

step "The external network, where this machine is 172.24.4.1"
ensure_public

step "A tenant network nat-net (10.2.0.0/24) behind router nat-router, with SNAT to its gateway on public"
NET=$(openstack network create nat-net -f value -c id)
later api DELETE "/networks/$NET"
SUBNET=$(openstack subnet create --network nat-net --subnet-range 10.2.0.0/24 nat-sub -f value -c id)
ROUTER=$(openstack router create --external-gateway public --enable-snat nat-router -f json)
ROUTER_ID=$(jq -r .id <<<"$ROUTER")
later api DELETE "/routers/$ROUTER_ID"
GATEWAY=$(jq -r '.external_gateway_info.external_fixed_ips[0].ip_address' <<<"$ROUTER")
openstack router add subnet nat-router nat-sub
later api PUT "/routers/$ROUTER_ID/remove_router_interface" "'{\"subnet_id\": \"$SUBNET\"}'"
echo "   router nat-router: gateway $GATEWAY on public (SNAT on), 10.2.0.1 on nat-sub"

step "A VM nat-vm (10.2.0.11) running a name server on tcp 7000"
PORT=$(openstack port create --network nat-net --fixed-ip ip-address=10.2.0.11 nat-vm -f value -c id)
later api DELETE "/ports/$PORT"
later weft unplug "$VM"
weft plug nat-vm --name "$VM" | sed -n '1s/^/   /p'
ip netns exec "$VM" node -e "require('net').createServer((s) => s.end('nat-vm\n')).listen(7000)" >/dev/null 2>&1 &
later kill $!
# As in Neutron, the default security group admits nothing from outside the group.
open_port "$(openstack port show nat-vm -f json -c security_group_ids | jq -r '.security_group_ids[0]')" --protocol tcp --dst-port 7000

step "SNAT: the VM pings this machine (172.24.4.1), and asks it who is calling"
# A server on this machine that answers each caller with the address it sees.
node -e "require('net').createServer((s) => s.end(s.remoteAddress.replace(/^::ffff:/, '') + '\n')).listen(7070, '172.24.4.1')" >/dev/null 2>&1 &
later kill $!
wait_for "ping answer from 172.24.4.1" 30 vm_pings 172.24.4.1
echo "   $VM -> 172.24.4.1: answered"
wait_for "answer from 172.24.4.1:7070" 10 called_back
SEEN=$(who_calls)
echo "   this machine saw the VM's connection come from $SEEN"
[ "$SEEN" = "$GATEWAY" ] || fail "this machine saw $SEEN, not the router's gateway $GATEWAY"
proves "the VM (10.2.0.11, a private address) reaches the outside as the router's gateway address $GATEWAY"

step "A port forwarding: floating IP tcp 2222 -> nat-vm 10.2.0.11 tcp 7000"
FIP_JSON=$(openstack floating ip create public -f json)
later api DELETE "/floatingips/$(jq -r .id <<<"$FIP_JSON")"
FIP=$(jq -r .floating_ip_address <<<"$FIP_JSON")
PF=$(openstack floating ip port forwarding create --port nat-vm --internal-ip-address 10.2.0.11 \
  --internal-protocol-port 7000 --external-protocol-port 2222 --protocol tcp "$FIP" -f value -c id)
later api DELETE "/floatingips/$(jq -r .id <<<"$FIP_JSON")/port_forwardings/$PF"   # a floating IP with forwardings cannot be deleted
wait_for "answer from nat-vm at $FIP:2222" 30 answers "$FIP" 2222 nat-vm
echo "   $FIP:2222 says: $(ask "$FIP" 2222)"
silent "$FIP" 7000 || fail "$FIP:7000 answers, but only 2222 is forwarded"
echo "   $FIP:7000 says nothing (not forwarded)"
proves "the floating IP carries one port to the VM, and nothing else"

step "A router firewall (FWaaS v2) on nat-router's interface into nat-sub, denying tcp 7000 toward the subnet"
LEG=$(openstack port list --router nat-router --device-owner network:router_interface -f value -c ID)
RULE=$(openstack firewall group rule create --name nat-tcp-7000 --protocol tcp --destination-port 7000 --action deny -f value -c ID)
later api DELETE "/fwaas/firewall_rules/$RULE"
ANY=$(openstack firewall group rule create --name nat-any --action allow -f value -c ID)
later api DELETE "/fwaas/firewall_rules/$ANY"
# Ingress: what the router sends into the subnet, here tcp 7000 denied and the rest allowed.
# Egress: what comes from the subnet, all allowed (a direction without a policy drops new connections).
IN=$(openstack firewall group policy create --firewall-rule nat-tcp-7000 --firewall-rule nat-any nat-in -f value -c ID)
later api DELETE "/fwaas/firewall_policies/$IN"
OUT=$(openstack firewall group policy create --firewall-rule nat-any nat-out -f value -c ID)
later api DELETE "/fwaas/firewall_policies/$OUT"
GROUP=$(openstack firewall group create --name nat-fw --ingress-firewall-policy nat-in --egress-firewall-policy nat-out --port "$LEG" -f value -c ID)
later api DELETE "/fwaas/firewall_groups/$GROUP"
later api PUT "/fwaas/firewall_groups/$GROUP" "'{\"firewall_group\": {\"ports\": []}}'"
echo "   firewall group nat-fw on port $LEG: ingress policy nat-in (deny tcp 7000, allow the rest), egress policy nat-out (allow)"
wait_for "block of $FIP:2222" 30 silent "$FIP" 2222
echo "   $FIP:2222 says nothing now"
vm_pings 172.24.4.1 || fail "the VM no longer reaches 172.24.4.1"
echo "   $VM -> 172.24.4.1: still answered"
proves "the firewall blocks the forwarded port (its traffic is tcp 7000 toward the subnet), and only that"

step "The rule turned into an allow: openstack firewall group rule set --action allow nat-tcp-7000"
openstack firewall group rule set --action allow nat-tcp-7000
wait_for "answer from nat-vm at $FIP:2222 again" 30 answers "$FIP" 2222 nat-vm
echo "   $FIP:2222 says: $(ask "$FIP" 2222)"
proves "the firewall follows its rules as they change: the forwarded port answers again"

echo
echo "OK: router with SNAT, a port forwarding and a firewall (VM seen as $GATEWAY; $FIP:2222 -> nat-vm:7000 blocked, then allowed)"
