# The agent's link to libnftables, the library behind `nft`, through its own Python binding
# (Debian python3-nftables). One process serves every router namespace of the agent: a libnftables
# context per namespace, made inside it (setns), so its netlink socket stays bound to that namespace.
# Why not `nft -i`: it reads its input one byte per read() (libedit), about 600 system calls per
# floating IP update, and it needs one process per router. See docs/NOTES.md.
#
# Protocol, one line per request and per answer, in order:
#   <id> TAB run TAB <netns> TAB <commands>    ->  <id> TAB <rc> TAB <error text as a JSON string>
#   <id> TAB forget TAB <netns>                ->  <id> TAB 0 TAB ""   (closes that namespace's context)
# A line of commands is one transaction: all of it is committed, or none of it (rc != 0).
import ctypes
import json
import os
import sys

import nftables

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)
home = os.open('/proc/self/ns/net', os.O_RDONLY)
contexts = {}


def enter(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def context(netns):
    ctx = contexts.get(netns)
    if ctx is None:
        fd = os.open('/run/netns/' + netns, os.O_RDONLY)
        try:
            enter(fd)
            try:
                ctx = nftables.Nftables()
            finally:
                enter(home)
        finally:
            os.close(fd)
        contexts[netns] = ctx
    return ctx


def answer(request):
    fields = request.split('\t', 3)
    if len(fields) < 3 or '/' in fields[2] or fields[2] in ('', '.', '..'):
        return 1, 'malformed request'
    op, netns = fields[1], fields[2]
    if op == 'forget':
        contexts.pop(netns, None)
        return 0, ''
    if op != 'run' or len(fields) != 4:
        return 1, 'malformed request'
    try:
        rc, _output, error = context(netns).cmd(fields[3])
    except OSError as e:
        return 1, 'namespace %s: %s' % (netns, e.strerror or e)
    return rc, error.strip()


for line in sys.stdin:
    line = line.rstrip('\n')
    rid = line.split('\t', 1)[0]
    rc, error = answer(line)
    sys.stdout.write('%s\t%d\t%s\n' % (rid, rc, json.dumps(error)))
    sys.stdout.flush()
