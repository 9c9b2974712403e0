#!/usr/bin/python3
r"""The README's quick start, and the errors around it, through openstacksdk's network proxy.

Run by test/e2e/openstacksdk.test.ts against a real controller in token mode; it also runs by
hand against `npm start` (Debian's python3-openstacksdk, so the system python):

    /usr/bin/python3 test/e2e/openstacksdk-scenario.py --endpoint http://127.0.0.1:9696 --data-dir data \
        --physnet scenario   # the quick start's own `public` already holds the flat physnet `public`

It connects with keystoneauth's admin_token plugin (no Keystone: the token goes to the
controller as X-Auth-Token), with the admin token from <data-dir>/admin-token and, for the
member's steps, a member token from <data-dir>/tokens.json (skipped, and said so, without one).
Each step checks what the SDK returned; the first difference ends the run with a message that
says what was expected and what came back, and a non-zero exit. Everything is named with one
prefix; what a failed run made is removed on the way out. The last line of a good run is
"OK: openstacksdk scenario".
"""

import argparse
import json
import os
import sys
import traceback
import uuid

import openstack
from openstack import exceptions as exc


class Failure(Exception):
    """A check that did not hold: the message says what differed."""


def eq(actual, expected, what):
    if actual != expected:
        raise Failure(f'{what}: expected {expected!r}, got {actual!r}')


def check(cond, what):
    if not cond:
        raise Failure(what)


def raises(cls, fn, what):
    """Run fn, expect it to raise cls, return the exception."""
    try:
        fn()
    except cls as e:
        return e
    except Exception as e:  # noqa: BLE001 - any other outcome is the failure to report
        raise Failure(f'{what}: expected {cls.__name__}, got {type(e).__name__}: {e}') from e
    raise Failure(f'{what}: expected {cls.__name__}, but the call succeeded')


def ips(port):
    return sorted(f['ip_address'] for f in port.fixed_ips)


def ids(resources):
    return sorted(r.id for r in resources)


# ---------------------------------------------------------------------------------------------
# Set-up

parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
parser.add_argument('--endpoint', required=True, help='the controller, e.g. http://127.0.0.1:9696')
parser.add_argument('--data-dir', required=True, help="the controller's data directory (admin-token, tokens.json)")
parser.add_argument('--prefix', default=f'sdk-{uuid.uuid4().hex[:6]}-', help='name prefix of everything made')
parser.add_argument('--physnet', default='public', help='physical network of the flat external network')
parser.add_argument('--debug', action='store_true', help="log every HTTP request and answer (keystoneauth's)")
args = parser.parse_args()

if args.debug:
    openstack.enable_logging(debug=True, http_debug=True, stream=sys.stderr)

P = args.prefix


def read_tokens():
    with open(os.path.join(args.data_dir, 'admin-token')) as f:
        admin = f.read().strip()
    with open(os.path.join(args.data_dir, 'tokens.json')) as f:
        tokens = json.load(f)['tokens']
    member = next(((t, v) for t, v in tokens.items() if 'member' in v['roles'] and 'admin' not in v['roles']), None)
    return admin, member


def connect(token):
    # load_yaml_config/load_envvars off: nothing from ~/.config/openstack or OS_* leaks in.
    return openstack.connect(
        auth_type='admin_token',
        auth={'endpoint': args.endpoint, 'token': token},
        load_yaml_config=False,
        load_envvars=False,
    )


admin_token, member = read_tokens()
conn = connect(admin_token)
net = conn.network
s = {}  # what the steps made, by role
made_fips = []

steps = []


def step(title):
    def register(fn):
        steps.append((title, fn))
        return fn

    return register


# ---------------------------------------------------------------------------------------------
# The quick start


@step('network and subnet')
def _():
    n = net.create_network(name=P + 'net1', description='first network')
    eq((n.name, n.status, n.is_admin_state_up), (P + 'net1', 'ACTIVE', True), 'created network')
    eq(n.provider_network_type, 'vxlan', 'tenant network type')
    s['net1'] = n
    sub = net.create_subnet(network_id=n.id, name=P + 'sub1', ip_version=4, cidr='10.0.0.0/24')
    eq((sub.cidr, sub.gateway_ip, sub.is_dhcp_enabled), ('10.0.0.0/24', '10.0.0.1', True), 'subnet cidr, gateway, dhcp')
    eq(sub.allocation_pools, [{'start': '10.0.0.2', 'end': '10.0.0.254'}], 'default allocation pool')
    s['sub1'] = sub
    eq(net.get_network(n.id).subnet_ids, [sub.id], "the network's subnets")
    # find_* first GETs /networks/<name> (a 404 here), then lists ?name=<name>
    eq(net.find_network(P + 'net1').id, n.id, 'find_network by name')
    eq(net.find_subnet(P + 'sub1').id, sub.id, 'find_subnet by name')


@step('two ports with fixed IPs; rename one; list with filters')
def _():
    n, sub = s['net1'], s['sub1']
    p1 = net.create_port(network_id=n.id, name=P + 'p1', fixed_ips=[{'subnet_id': sub.id, 'ip_address': '10.0.0.11'}])
    p2 = net.create_port(network_id=n.id, name=P + 'p2', fixed_ips=[{'ip_address': '10.0.0.12'}])
    eq(p1.fixed_ips, [{'subnet_id': sub.id, 'ip_address': '10.0.0.11'}], 'p1 fixed_ips')
    eq(p2.fixed_ips, [{'subnet_id': sub.id, 'ip_address': '10.0.0.12'}], 'p2 fixed_ips')
    check(p1.mac_address and p1.mac_address != p2.mac_address, f'distinct MACs: {p1.mac_address} {p2.mac_address}')
    eq(len(p1.security_group_ids), 1, "p1's security groups (the project's default)")
    s['p1'], s['p2'] = p1, p2
    renamed = net.update_port(p1, name=P + 'p1-web')
    eq(renamed.name, P + 'p1-web', 'renamed port (answer)')
    eq(net.get_port(p1.id).name, P + 'p1-web', 'renamed port (shown)')
    eq(ids(net.ports(network_id=n.id)), sorted([p1.id, p2.id]), 'ports filtered by network_id')
    eq(ids(net.ports(name=P + 'p1-web')), [p1.id], 'ports filtered by the new name')
    eq(ids(net.ports(name=P + 'p1')), [], 'ports filtered by the old name')
    eq(ids(net.ports(network_id=n.id, name=P + 'p2')), [p2.id], 'ports filtered by network_id and name')
    eq(ids(net.ports(fixed_ips=['ip_address=10.0.0.12'])), [p2.id], 'ports filtered by fixed IP')
    eq(net.find_port(P + 'p2').id, p2.id, 'find_port by name')
    # bulk create (one POST of {"ports": [...]}), then a listing the SDK pages through (limit,
    # then the marker of ports_links' next) until no next link comes
    bulk = list(net.create_ports([{'network_id': n.id, 'name': f'{P}bulk{i}'} for i in range(3)]))
    eq(sorted(p.name for p in bulk), [f'{P}bulk{i}' for i in range(3)], 'bulk-created ports')
    paged = [p.id for p in net.ports(network_id=n.id, limit=2)]
    eq(sorted(paged), sorted([p1.id, p2.id] + [p.id for p in bulk]), 'ports listed 2 at a time')
    for p in bulk:
        net.delete_port(p, ignore_missing=False)


@step('security group and rules')
def _():
    sg = net.create_security_group(name=P + 'web', description='web servers')
    eq(sg.name, P + 'web', 'security group name')
    eq(sorted(r['ethertype'] for r in sg.security_group_rules if r['direction'] == 'egress'), ['IPv4', 'IPv6'],
       "a new group's default egress rules")
    s['sg'] = sg
    icmp = net.create_security_group_rule(security_group_id=sg.id, direction='ingress', ether_type='IPv4', protocol='icmp')
    ssh = net.create_security_group_rule(security_group_id=sg.id, direction='ingress', ether_type='IPv4', protocol='tcp',
                                         port_range_min=22, port_range_max=22, remote_ip_prefix='10.1.0.0/16')
    eq((icmp.protocol, icmp.direction, icmp.port_range_min, icmp.port_range_max), ('icmp', 'ingress', None, None), 'icmp rule')
    eq((ssh.protocol, ssh.port_range_min, ssh.port_range_max, ssh.remote_ip_prefix, ssh.remote_group_id),
       ('tcp', 22, 22, '10.1.0.0/16', None), 'ssh rule')
    eq(ssh.security_group_id, sg.id, "ssh rule's group")
    rules = list(net.security_group_rules(security_group_id=sg.id))
    eq(len(rules), 4, f'rules of the group ({[(r.direction, r.ether_type, r.protocol) for r in rules]})')
    check({icmp.id, ssh.id} <= {r.id for r in rules}, 'the listed rules hold the two new ones')
    eq(ids(net.security_group_rules(security_group_id=sg.id, protocol='tcp')), [ssh.id], 'rules filtered by protocol')
    net.delete_security_group_rule(icmp, ignore_missing=False)
    eq(sorted(r.id for r in net.security_group_rules(security_group_id=sg.id) if r.direction == 'ingress'), [ssh.id],
       'ingress rules after deleting the icmp one')
    eq(len(net.get_security_group(sg.id).security_group_rules), 3, "the group's rules after the delete")
    raises(exc.ResourceNotFound, lambda: net.get_security_group_rule(icmp.id), 'get of the deleted rule')
    # the port takes the group (a PUT of the whole list, as the SDK sends it)
    groups = sorted(s['p1'].security_group_ids + [sg.id])
    p1 = net.update_port(s['p1'].id, security_group_ids=groups)
    eq(sorted(p1.security_group_ids), groups, "p1's groups (answer)")
    eq(sorted(net.get_port(p1.id).security_group_ids), groups, "p1's groups (shown)")


@step('external network (flat, router:external) and its subnet')
def _():
    pub = net.create_network(name=P + 'public', is_router_external=True, provider_network_type='flat',
                             provider_physical_network=args.physnet)
    eq((pub.is_router_external, pub.provider_network_type, pub.provider_physical_network, pub.provider_segmentation_id),
       (True, 'flat', args.physnet, None), 'external network')
    s['public'] = pub
    sub = net.create_subnet(network_id=pub.id, name=P + 'public-sub', ip_version=4, cidr='172.24.4.0/24',
                            gateway_ip='172.24.4.1', is_dhcp_enabled=False,
                            allocation_pools=[{'start': '172.24.4.10', 'end': '172.24.4.200'}])
    eq((sub.gateway_ip, sub.is_dhcp_enabled, sub.allocation_pools),
       ('172.24.4.1', False, [{'start': '172.24.4.10', 'end': '172.24.4.200'}]), 'external subnet')
    s['public-sub'] = sub
    eq(ids(net.networks(is_router_external=True, name=P + 'public')), [pub.id], 'networks filtered by router:external')


@step('router: external gateway, an interface by subnet, one by port')
def _():
    r = net.create_router(name=P + 'r1')
    eq((r.name, r.external_gateway_info, r.is_admin_state_up), (P + 'r1', None, True), 'new router')
    s['r1'] = r
    r = net.update_router(r, external_gateway_info={'network_id': s['public'].id})
    gw = r.external_gateway_info or {}
    eq((gw.get('network_id'), gw.get('enable_snat')), (s['public'].id, True), 'gateway info')
    eq(len(gw.get('external_fixed_ips', [])), 1, 'gateway addresses')
    gw_ip = gw['external_fixed_ips'][0]
    eq(gw_ip['subnet_id'], s['public-sub'].id, "gateway address's subnet")
    last = int(gw_ip['ip_address'].rsplit('.', 1)[1])
    check(gw_ip['ip_address'].startswith('172.24.4.') and 10 <= last <= 200, f'gateway address in the pool: {gw_ip}')
    s['gw_ip'] = gw_ip['ip_address']

    added = net.add_interface_to_router(r, subnet_id=s['sub1'].id)
    eq((added.get('id'), added.get('subnet_id'), added.get('subnet_ids'), added.get('network_id')),
       (r.id, s['sub1'].id, [s['sub1'].id], s['net1'].id), 'add_interface_to_router (subnet) answer')
    check(added.get('port_id'), f'the answer names the new port: {added}')
    leg = net.get_port(added['port_id'])
    eq((leg.device_id, leg.device_owner, ips(leg)), (r.id, 'network:router_interface', ['10.0.0.1']), 'the interface port')

    # by port: a second network, its subnet, a port made for the router
    n2 = net.create_network(name=P + 'net2')
    sub2 = net.create_subnet(network_id=n2.id, name=P + 'sub2', ip_version=4, cidr='10.0.1.0/24')
    rp = net.create_port(network_id=n2.id, name=P + 'r1-leg2', fixed_ips=[{'subnet_id': sub2.id, 'ip_address': '10.0.1.1'}])
    s['net2'], s['sub2'], s['r1-leg2'] = n2, sub2, rp
    added = net.add_interface_to_router(r, port_id=rp.id)
    eq((added.get('id'), added.get('port_id'), added.get('subnet_id'), added.get('network_id')),
       (r.id, rp.id, sub2.id, n2.id), 'add_interface_to_router (port) answer')
    rp = net.get_port(rp.id)
    eq((rp.device_id, rp.device_owner), (r.id, 'network:router_interface'), 'the port once an interface')
    eq(sorted(ips(p)[0] for p in net.ports(device_id=r.id, device_owner='network:router_interface')),
       ['10.0.0.1', '10.0.1.1'], "the router's interfaces")
    eq(net.get_router(r.id).external_gateway_info['network_id'], s['public'].id, 'gateway kept')


@step('floating IP: on p1, moved to p2, disassociated')
def _():
    fip = net.create_ip(floating_network_id=s['public'].id, port_id=s['p1'].id)
    made_fips.append(fip.id)
    eq((fip.floating_network_id, fip.port_id, fip.fixed_ip_address, fip.router_id),
       (s['public'].id, s['p1'].id, '10.0.0.11', s['r1'].id), 'floating IP on p1')
    check(fip.floating_ip_address.startswith('172.24.4.') and fip.floating_ip_address != s['gw_ip'],
          f'floating address from the pool, not the gateway: {fip.floating_ip_address}')
    s['fip'] = fip
    moved = net.update_ip(fip, port_id=s['p2'].id)
    eq((moved.port_id, moved.fixed_ip_address, moved.router_id, moved.floating_ip_address),
       (s['p2'].id, '10.0.0.12', s['r1'].id, fip.floating_ip_address), 'floating IP moved to p2 (answer)')
    eq(net.get_ip(fip.id).port_id, s['p2'].id, 'floating IP moved to p2 (shown)')
    eq(net.find_ip(fip.floating_ip_address).id, fip.id, 'find_ip by address')
    eq(ids(net.ips(port_id=s['p2'].id)), [fip.id], 'floating IPs filtered by port_id')
    free = net.update_ip(fip, port_id=None)
    eq((free.port_id, free.fixed_ip_address, free.router_id), (None, None, None), 'floating IP disassociated (answer)')
    shown = net.get_ip(fip.id)
    eq((shown.port_id, shown.fixed_ip_address, shown.router_id), (None, None, None), 'floating IP disassociated (shown)')


@step('tags and revision numbers')
def _():
    n = net.get_network(s['net1'].id)
    rev = n.revision_number
    check(isinstance(rev, int), f'revision_number is a number: {rev!r}')
    upd = net.update_network(n, description='tenant network')
    eq(upd.description, 'tenant network', 'updated description')
    check(upd.revision_number > rev, f'revision_number grows on update: {rev} -> {upd.revision_number}')
    rev = upd.revision_number
    tagged = net.set_tags(upd, ['web', 'prod'])
    eq(sorted(tagged.tags), ['prod', 'web'], 'tags in the answer')
    shown = net.get_network(n.id)
    eq(sorted(shown.tags), ['prod', 'web'], 'tags shown')
    check(shown.revision_number > rev, f'revision_number grows when tags change: {rev} -> {shown.revision_number}')
    eq(ids(net.networks(tags='web')), [n.id], 'networks filtered by tags')
    eq(ids(net.networks(tags='web,prod')), [n.id], 'networks with all the tags')
    eq(ids(net.networks(any_tags='prod,nothing')), [n.id], 'networks with any of the tags')
    eq([x.id for x in net.networks(not_tags='web') if x.id == n.id], [], 'networks without the tag')
    # If-Match: revision_number=N, as the SDK sends it
    stale = shown.revision_number - 1
    raises(exc.PreconditionFailedException, lambda: net.update_network(n, if_revision=stale, description='stale'),
           'update with a stale if_revision')
    ok = net.update_network(n, if_revision=shown.revision_number, description='tenant network 2')
    eq(ok.description, 'tenant network 2', 'update with the current if_revision')
    cleared = net.set_tags(net.get_network(n.id), [])
    eq(cleared.tags, [], 'tags cleared')


@step('errors as the SDK parses them')
def _():
    missing = str(uuid.uuid4())
    e = raises(exc.ResourceNotFound, lambda: net.get_network(missing), 'get of a missing network')
    check(missing in str(e), f'the 404 names the network: {e}')
    e = raises(exc.ResourceNotFound, lambda: net.delete_network(missing, ignore_missing=False), 'delete of a missing network')
    eq(net.delete_network(missing), None, 'delete of a missing network with ignore_missing')
    eq(net.find_network(P + 'nothing'), None, 'find of a missing name')
    e = raises(exc.ConflictException, lambda: net.delete_network(s['net1'], ignore_missing=False), 'delete of a network with ports')
    check('ports still in use' in (e.details or ''), f"Neutron's NetworkInUse message: {e.details!r}")
    e = raises(exc.BadRequestException,
               lambda: net.create_subnet(network_id=s['net1'].id, ip_version=4, cidr='10.0.0.0/33', name=P + 'bad'),
               'a subnet with a bad cidr')
    check("Invalid input for cidr. Reason: '10.0.0.0/33' is not a valid IP subnet." in (e.details or ''),
          f"Neutron's message for a bad cidr: {e.details!r}")
    e = raises(exc.BadRequestException,
               lambda: net.create_port(network_id=s['net1'].id, name=P + 'bad', fixed_ips=[{'ip_address': '10.9.9.9'}]),
               'a port with an address outside every subnet')
    check('10.9.9.9' in (e.details or ''), f'the 400 names the address: {e.details!r}')
    e = raises(exc.ConflictException,
               lambda: net.create_port(network_id=s['net1'].id, name=P + 'dup', fixed_ips=[{'ip_address': '10.0.0.11'}]),
               'a port with an address already in use')
    check('10.0.0.11' in (e.details or ''), f'the 409 names the address: {e.details!r}')
    e = raises(exc.ConflictException, lambda: net.delete_subnet(s['sub1'], ignore_missing=False),
               'delete of a subnet with a router interface')
    check(e.details, f'the 409 says why: {e!r}')


@step("a member's view")
def _():
    if member is None:
        print('  SKIP: no member token in tokens.json')
        return
    token, who = member
    m = connect(token).network
    visible = ids(m.networks())
    check(s['public'].id in visible, 'a member sees the external network')
    check(s['net1'].id not in visible, "a member does not see the admin's network")
    raises(exc.ResourceNotFound, lambda: m.get_network(s['net1'].id), "a member's get of the admin's network")
    mine = m.create_network(name=P + 'member-net')
    eq(mine.project_id, who['project_id'], "the member's network's project")
    check(mine.provider_network_type is None, f'a member does not see provider attributes: {mine.provider_network_type!r}')
    e = raises(exc.HttpException, lambda: m.create_network(name=P + 'member-ext', is_router_external=True),
               'a member making an external network')
    eq(e.status_code, 403, "the member's external network refusal")
    msub = m.create_subnet(network_id=mine.id, name=P + 'member-sub', ip_version=4, cidr='10.0.0.0/24')
    eq(msub.cidr, '10.0.0.0/24', "the member's subnet (the same range as the admin's, in another project)")
    m.delete_subnet(msub, ignore_missing=False)
    m.delete_network(mine, ignore_missing=False)
    raises(exc.ResourceNotFound, lambda: m.get_network(mine.id), "the member's deleted network")


@step('delete everything')
def _():
    r = s['r1']
    net.delete_ip(s['fip'], ignore_missing=False)
    raises(exc.ResourceNotFound, lambda: net.get_ip(s['fip'].id), 'the deleted floating IP')
    removed = net.remove_interface_from_router(r, subnet_id=s['sub1'].id)
    eq((removed.get('id'), removed.get('subnet_id')), (r.id, s['sub1'].id), 'remove_interface_from_router (subnet) answer')
    removed = net.remove_interface_from_router(r, port_id=s['r1-leg2'].id)
    eq((removed.get('id'), removed.get('port_id')), (r.id, s['r1-leg2'].id), 'remove_interface_from_router (port) answer')
    # a port added by port_id is deleted with the interface, as in Neutron
    raises(exc.ResourceNotFound, lambda: net.get_port(s['r1-leg2'].id), 'the removed interface port')
    eq([p.device_owner for p in net.ports(device_id=r.id)], ['network:router_gateway'], "the router's ports after removing the interfaces")
    bare = net.update_router(r, external_gateway_info=None)
    eq(bare.external_gateway_info, None, 'gateway removed')
    eq(list(net.ports(device_id=r.id)), [], "the router's ports after removing the gateway")
    net.delete_router(r, ignore_missing=False)
    for p in ('p1', 'p2'):
        net.delete_port(s[p], ignore_missing=False)
    for sub in ('sub1', 'sub2', 'public-sub'):
        net.delete_subnet(s[sub], ignore_missing=False)
    for n in ('net1', 'net2', 'public'):
        net.delete_network(s[n], ignore_missing=False)
    net.delete_security_group(s['sg'], ignore_missing=False)
    raises(exc.ResourceNotFound, lambda: net.get_router(r.id), 'the deleted router')
    raises(exc.ResourceNotFound, lambda: net.get_network(s['net1'].id), 'the deleted network')


@step('nothing of the scenario is left')
def _():
    left = leftovers()
    eq(left, {}, 'what the scenario left behind')


# ---------------------------------------------------------------------------------------------
# Leftovers: listed by the name prefix (Neutron filters names only by equality), plus the
# floating IPs made, which have no name.


def leftovers():
    found = {
        'floating_ips': [f.id for f in net.ips() if f.id in made_fips],
        'routers': [x.name for x in net.routers() if (x.name or '').startswith(P)],
        'ports': [x.name for x in net.ports() if (x.name or '').startswith(P)],
        'subnets': [x.name for x in net.subnets() if (x.name or '').startswith(P)],
        'networks': [x.name for x in net.networks() if (x.name or '').startswith(P)],
        'security_groups': [x.name for x in net.security_groups() if (x.name or '').startswith(P)],
    }
    return {k: v for k, v in found.items() if v}


def sweep():
    """After a failure: remove what the scenario made, in dependency order, as far as it goes."""
    def quietly(fn, *a, **kw):
        try:
            fn(*a, **kw)
        except Exception as e:  # noqa: BLE001 - best effort; the failure was already reported
            print(f'  (clean-up: {fn.__name__}: {e})', file=sys.stderr)

    for f in list(net.ips()):
        if f.id in made_fips:
            quietly(net.delete_ip, f)
    for r in [x for x in net.routers() if (x.name or '').startswith(P)]:
        for p in net.ports(device_id=r.id, device_owner='network:router_interface'):
            quietly(net.remove_interface_from_router, r, port_id=p.id)
        quietly(net.update_router, r, external_gateway_info=None)
        quietly(net.delete_router, r)
    ours = [x for x in net.networks() if (x.name or '').startswith(P)]
    for n in ours:
        for p in net.ports(network_id=n.id):
            quietly(net.delete_port, p)
    for n in ours:
        quietly(net.delete_network, n)
    for g in [x for x in net.security_groups() if (x.name or '').startswith(P)]:
        quietly(net.delete_security_group, g)


def main():
    print(f'openstacksdk {openstack.version.__version__} against {args.endpoint}, prefix {P}')
    for i, (title, fn) in enumerate(steps, 1):
        print(f'[{i}/{len(steps)}] {title}', flush=True)
        try:
            fn()
        except Failure as e:
            print(f'FAIL in step {i} ({title}): {e}', flush=True)
            return 1
        except Exception as e:  # noqa: BLE001 - an SDK error the step did not expect
            traceback.print_exc()
            details = getattr(e, 'details', None)
            print(f'FAIL in step {i} ({title}): unexpected {type(e).__name__}: {e}'
                  + (f'\n  server said: {details}' if details else ''), flush=True)
            return 1
    print('OK: openstacksdk scenario', flush=True)
    return 0


if __name__ == '__main__':
    code = main()
    if code != 0:
        try:
            sweep()
            left = leftovers()
            if left:
                print(f'clean-up left: {left}', file=sys.stderr)
        except Exception as e:  # noqa: BLE001
            print(f'clean-up failed: {e}', file=sys.stderr)
    sys.exit(code)
