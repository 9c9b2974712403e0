#!/usr/bin/env bash
# Story: a floating IP moves from one VM to another while it is being used.
#
# Two VMs on a tenant network behind a router each run a tiny TCP name server (port 7000 answers
# the VM's name). A floating IP on the public network points at the first VM; this machine pings
# it five times a second while `weft fip move` points it at the second VM and waits until the
# dataplane has applied the move. The floating IP then answers from the second VM, and ping's
# summary says how many probes were lost on the way.
#
# Run it as root against `npm start` (README, Quick start), with the quick start's environment:
#   export OS_AUTH_TYPE=admin_token OS_ENDPOINT=http://127.0.0.1:9696 OS_TOKEN=$(cat data/admin-token)
#   export PATH="$PWD/bin:$PATH"
#   bash examples/floating-ip-failover.sh
# It uses the external network `public` of the quick start, and makes it (flat on physical network
# public, 172.24.4.0/24, gateway 172.24.4.1: this machine) when it is not there. VM namespaces are
# named $WEFT_EXAMPLE_PREFIX-... (default: ex-...). Everything the script makes is removed when it
# ends, whether it succeeds or fails, so it can be run again.
source "$(dirname "$0")/lib.sh"
TMP=$(mktemp -d)
later "rm -rf '$TMP'"

# name_server VM NAME: a TCP server on port 7000 in the VM's namespace that answers NAME.
name_server() {
  ip netns exec "$P-$1" node -e "require('net').createServer((s) => s.end('$2\n')).listen(7000)" >/dev/null 2>&1 &
  later kill $!
}

step "The external network, where this machine is 172.24.4.1"
ensure_public

step "A tenant network fo-net (10.1.0.0/24) behind router fo-router, whose gateway is on public"
NET=$(openstack network create fo-net -f value -c id)
later api DELETE "/networks/$NET"
SUBNET=$(openstack subnet create --network fo-net --subnet-range 10.1.0.0/24 fo-sub -f value -c id)
ROUTER=$(openstack router create --external-gateway public fo-router -f json)
later api DELETE "/routers/$(jq -r .id <<<"$ROUTER")"
openstack router add subnet fo-router fo-sub
later api PUT "/routers/$(jq -r .id <<<"$ROUTER")/remove_router_interface" "'{\"subnet_id\": \"$SUBNET\"}'"
echo "   router fo-router: gateway $(jq -r '.external_gateway_info.external_fixed_ips[0].ip_address' <<<"$ROUTER") on public, 10.1.0.1 on fo-sub"

step "Two VMs, fo-a (10.1.0.11) and fo-b (10.1.0.12), each running a name server on tcp 7000"
for vm in fo-a:10.1.0.11 fo-b:10.1.0.12; do
  PORT=$(openstack port create --network fo-net --fixed-ip ip-address="${vm#*:}" "${vm%%:*}" -f value -c id)
  later api DELETE "/ports/$PORT"
  later weft unplug "$P-${vm%%:*}"
  weft plug "${vm%%:*}" --name "$P-${vm%%:*}" | sed -n '1s/^/   /p'
  name_server "${vm%%:*}" "${vm%%:*}"
done
# As in Neutron, the default security group admits nothing from outside the group.
SG=$(openstack port show fo-a -f json -c security_group_ids | jq -r '.security_group_ids[0]')
open_port "$SG" --protocol tcp --dst-port 7000
open_port "$SG" --protocol icmp

step "A floating IP on fo-a, asked for its name from this machine"
FIP_JSON=$(openstack floating ip create --port fo-a public -f json)
later api DELETE "/floatingips/$(jq -r .id <<<"$FIP_JSON")"
FIP=$(jq -r .floating_ip_address <<<"$FIP_JSON")
wait_for "answer from fo-a at $FIP:7000" 30 answers "$FIP" 7000 fo-a
echo "   $FIP:7000 says: $(ask "$FIP" 7000)"
proves "the floating IP leads to fo-a"

step "A live probe: this machine pings $FIP every 0.2 s"
ping -i 0.2 -W 1 "$FIP" >"$TMP/ping.log" 2>&1 &
PING=$!
later "kill $PING || true"
wait_for "ping replies from $FIP" 10 grep -q 'icmp_seq=5 ' "$TMP/ping.log"
echo "   $(grep -c 'bytes from' "$TMP/ping.log") replies so far"

step "weft fip move $FIP fo-b --wait: one API call, answered once the dataplane has applied it"
weft fip move "$FIP" fo-b --wait | sed 's/^/   /'
wait_for "answer from fo-b at $FIP:7000" 10 answers "$FIP" 7000 fo-b
echo "   $FIP:7000 says: $(ask "$FIP" 7000)"
proves "the floating IP now leads to fo-b"

step "The probe's count, two seconds after the move"
sleep 2
kill -INT "$PING"
wait "$PING" || true
summary=$(grep 'packets transmitted' "$TMP/ping.log") || fail "ping printed no summary: $(cat "$TMP/ping.log")"
read -r sent received <<<"$(sed -E 's/^([0-9]+) packets transmitted, ([0-9]+) received.*/\1 \2/' <<<"$summary")"
echo "   ping: $summary"
echo "   probes lost during the failover: $((sent - received)) of $sent"
proves "the move is one remap: the probes lost above are the whole gap in service"

echo
echo "OK: floating IP failover ($FIP moved from fo-a to fo-b, $((sent - received)) of $sent probes lost)"
