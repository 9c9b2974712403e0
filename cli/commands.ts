// Every `weft` command and option, declared once: the parser checks against this table and the
// usage texts are printed from it.
import type { CommandSpec, OptionSpec } from './args.ts';

export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  { name: 'url', type: 'string', placeholder: 'URL', help: 'the controller (env WEFT_URL; default http://127.0.0.1:9696)' },
  { name: 'token', type: 'string', placeholder: 'TOKEN', help: 'an admin token (env OS_TOKEN; default: ./data/admin-token)' },
  { name: 'json', type: 'boolean', help: 'machine-readable output on stdout' },
  { name: 'help', type: 'boolean', help: 'show usage' },
];

/** Which Open vSwitch a command works on (plug, unplug, trace). */
const SWITCH_OPTIONS: readonly OptionSpec[] = [
  { name: 'ovsdb', type: 'string', placeholder: 'unix:PATH', help: "the switch's OVSDB (env WEFT_OVSDB; default: the agent's private switch in WEFT_RUN_DIR)" },
  { name: 'host-netns', type: 'string', placeholder: 'NS', help: 'network namespace that switch runs in (default: this one)' },
  { name: 'lab-host', type: 'string', placeholder: 'HOST', help: 'a host of the lab `weft lab up` made: its switch and namespace' },
  { name: 'lab-dir', type: 'string', placeholder: 'DIR', help: 'folder of that lab (env WEFT_LAB_DIR; default /tmp/weft-lab)' },
];

export const COMMANDS: readonly CommandSpec[] = [
  {
    words: ['status'],
    args: [],
    options: [],
    summary: "agents (alive, applied revision, lag behind the controller) and the ports that are not ACTIVE",
  },
  {
    words: ['plug'],
    args: [{ name: 'PORT' }],
    options: [
      { name: 'name', type: 'string', placeholder: 'NAME', help: "the VM's namespace (default vm-<port id[:8]>, in a lab <prefix>-vm-<port id[:8]>)" },
      { name: 'host', type: 'string', placeholder: 'HOST', help: 'bind the port to HOST first, as Nova does (default: WEFT_HOST; the lab host with --lab-host)' },
      { name: 'dhcp', type: 'boolean', help: 'get the address by DHCP (busybox udhcpc) instead of setting it' },
      { name: 'no-wait', type: 'boolean', help: 'do not wait for the port to go ACTIVE' },
      { name: 'timeout', type: 'int', min: 1, max: 600, placeholder: 'SECONDS', help: 'how long to wait for ACTIVE (default 30)' },
      ...SWITCH_OPTIONS,
    ],
    summary: "plug a Neutron port into br-int as a VM namespace (veth, iface-id, MAC, addresses, gateway), as Nova or a CNI plugin would",
  },
  {
    words: ['unplug'],
    args: [{ name: 'PORT|NAME' }],
    options: [...SWITCH_OPTIONS],
    summary: "remove a VM namespace that `weft plug` made, and its switch port",
  },
  {
    words: ['trace'],
    args: [{ name: 'PORT' }, { name: 'DST' }],
    options: [
      { name: 'proto', type: 'string', choices: ['icmp', 'tcp', 'udp'], help: 'protocol (default icmp)' },
      { name: 'dport', type: 'int', min: 1, max: 65535, placeholder: 'N', help: 'tcp/udp destination port (default 80)' },
      { name: 'sport', type: 'int', min: 1, max: 65535, placeholder: 'N', help: 'tcp/udp source port (default 40000)' },
      { name: 'raw', type: 'boolean', help: "also print ofproto/trace's own output" },
      ...SWITCH_OPTIONS.filter((o) => o.name !== 'host-netns'),
    ],
    summary: "the path of a packet from PORT to address DST through br-int (ofproto/trace), with Weft's table names and the verdict",
  },
  {
    words: ['fip', 'move'],
    args: [{ name: 'FIP' }, { name: 'PORT' }],
    options: [
      { name: 'fixed-ip', type: 'string', placeholder: 'IP', help: "which of the port's addresses (default: Neutron's choice)" },
      { name: 'wait', type: 'boolean', help: 'answer once the dataplane has applied it (X-Weft-Wait-Dataplane)' },
      { name: 'timeout', type: 'int', min: 1, max: 60, placeholder: 'SECONDS', help: 'longest wait with --wait (default 30)' },
    ],
    summary: 'point floating IP FIP (id or address) at PORT (id or name) and say how long it took',
  },
  {
    words: ['lab', 'up'],
    args: [],
    options: [
      { name: 'hosts', type: 'int', min: 1, max: 20, placeholder: 'N', help: 'number of hosts h1..hN (default 2)' },
      { name: 'provider', type: 'boolean', help: 'give every host eth1 on the fabric as physical network physnet1 (br-phys)' },
      { name: 'external', type: 'string', placeholder: 'CIDR', help: 'with --provider: an "outside" namespace <prefix>-ext on physnet1 with this address' },
      { name: 'prefix', type: 'string', placeholder: 'PREFIX', help: "namespace prefix (default wl + 4 hex)" },
      { name: 'lab-dir', type: 'string', placeholder: 'DIR', help: 'state, logs and run folders (env WEFT_LAB_DIR; default /tmp/weft-lab)' },
    ],
    summary: 'a lab of hosts (namespaces with Open vSwitch and a weft-agent each, each enrolled) connected to the controller',
  },
  {
    words: ['lab', 'down'],
    args: [],
    options: [{ name: 'lab-dir', type: 'string', placeholder: 'DIR', help: 'folder of the lab (env WEFT_LAB_DIR; default /tmp/weft-lab)' }],
    summary: 'remove everything `weft lab up` made: agents, switches, namespaces, run folders',
  },
  {
    words: ['agent', 'enrol'],
    args: [{ name: 'HOST' }],
    options: [{ name: 'expires', type: 'int', min: 1, max: 30 * 24 * 3600, placeholder: 'SECONDS', help: 'how long the token stays good (default a day)' }],
    summary: "a one-time enrolment token for HOST's agent (WEFT_ENROLMENT_TOKEN), which redeems it for its own credential",
  },
  {
    words: ['agent', 'revoke'],
    args: [{ name: 'HOST' }],
    options: [],
    summary: "revoke HOST's agent credential: its agent is disconnected until the host is enrolled again",
  },
];
