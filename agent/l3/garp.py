# Gratuitous ARPs for many router addresses from one process: what a gateway host sends when a
# failover makes a whole gateway's HA routers active at once (agent/l3/legs.ts). One busybox arping
# per address (each behind `ip netns exec`) was hundreds of processes for a hundred routers, started
# on the two cores that forward the traffic coming back.
#
# Usage: garp.py COUNT INTERVAL_MS, then one "<netns> TAB <iface> TAB <IPv4>" line per address on
# stdin. Each address gets COUNT ARP requests (sender = target = the address, from the interface's
# MAC, to the broadcast address: what `arping -U` sends), INTERVAL_MS apart. An address that cannot
# be announced (namespace or interface gone) is reported on stderr and the others go on; the exit
# code is then 1.
import ctypes
import os
import socket
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
ETH_P_ARP = 0x0806
libc = ctypes.CDLL(None, use_errno=True)
home = os.open('/proc/self/ns/net', os.O_RDONLY)


def enter(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def frame(mac, ip):
    addr = socket.inet_aton(ip)
    arp = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 1, mac, addr, b'\x00' * 6, addr)
    return b'\xff' * 6 + mac + struct.pack('!H', ETH_P_ARP) + arp


def open_socket(netns, iface):
    """A raw socket on the interface inside the namespace (it stays bound there after we leave)."""
    fd = os.open('/run/netns/' + netns, os.O_RDONLY)
    try:
        enter(fd)
        try:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
            s.bind((iface, ETH_P_ARP))
        finally:
            enter(home)
    finally:
        os.close(fd)
    return s, s.getsockname()[4]


def main():
    count, interval = int(sys.argv[1]), int(sys.argv[2]) / 1000.0
    failed = False
    out = []
    for line in sys.stdin:
        fields = line.rstrip('\n').split('\t')
        if len(fields) != 3 or '/' in fields[0] or fields[0] in ('', '.', '..'):
            continue
        netns, iface, ip = fields
        try:
            s, mac = open_socket(netns, iface)
            out.append((s, frame(mac, ip), '%s %s %s' % (netns, iface, ip)))
        except OSError as e:
            failed = True
            sys.stderr.write('%s %s %s: %s\n' % (netns, iface, ip, e.strerror or e))
    for n in range(count):
        if n:
            time.sleep(interval)
        for s, f, what in out:
            try:
                s.send(f)
            except OSError as e:
                failed = True
                sys.stderr.write('%s: %s\n' % (what, e.strerror or e))
    sys.exit(1 if failed else 0)


main()
