#!/bin/sh
# busybox udhcpc's script for a lab VM (`weft plug --dhcp`): puts the lease on the interface (address,
# mask, MTU) and makes the first router the default route. busybox passes the lease in variables.
case "$1" in
  deconfig)
    ip addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip addr replace "$ip/${mask:-24}" dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    for r in $router; do
      ip route replace default via "$r" dev "$interface"
      break
    done
    ;;
esac
exit 0
