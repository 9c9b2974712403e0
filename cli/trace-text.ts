// ofproto/trace, read for people: the flow text we ask the switch to trace, its answer taken apart
// into sections (the first pass and each conntrack recirculation), bridges and table steps, printed
// back with br-int's table names (agent/pipeline/tables.ts), and the verdict: which OpenFlow ports
// the packet leaves br-int by, or the table where it was dropped. Pure: no switch, no API.
import { nameTables } from '../agent/pipeline/flow.ts';
import { tableNameOf } from '../agent/pipeline/tables.ts';

export interface TracePacket {
  inPort: number;
  srcMac: string;
  dstMac: string;
  src: string;
  dst: string;
  proto: 'icmp' | 'tcp' | 'udp';
  sport?: number;
  dport?: number;
}

/** The flow for `ovs-appctl ofproto/trace BRIDGE FLOW`: an echo request, or a TCP SYN / UDP datagram. */
export function traceFlow(p: TracePacket): string {
  const v6 = p.dst.includes(':');
  const base = [`in_port=${p.inPort}`, `dl_src=${p.srcMac}`, `dl_dst=${p.dstMac}`];
  const l3 = v6 ? [`ipv6_src=${p.src}`, `ipv6_dst=${p.dst}`, 'nw_ttl=64'] : [`nw_src=${p.src}`, `nw_dst=${p.dst}`, 'nw_ttl=64'];
  if (p.proto === 'icmp') return [...base, v6 ? 'icmp6' : 'icmp', ...l3, `icmp_type=${v6 ? 128 : 8}`, 'icmp_code=0'].join(',');
  const ports = [`${p.proto}_src=${p.sport ?? 40000}`, `${p.proto}_dst=${p.dport ?? 80}`];
  return [...base, `${p.proto}${v6 ? '6' : ''}`, ...l3, ...ports, ...(p.proto === 'tcp' ? ['tcp_flags=0x002'] : [])].join(',');
}

export interface TraceStep {
  /** OpenFlow table number (undefined for the thaw/resume lines before the first table). */
  table: number | undefined;
  /** The step's first line after "N. ": the flow's match, priority and cookie, or "No match." */
  head: string;
  /** Actions and the switch's notes below it, unindented. */
  lines: string[];
}

export interface TraceBlock {
  bridge: string;
  steps: TraceStep[];
}

export interface TraceSection {
  /** For a recirculation: the conntrack state it resumed with, e.g. "trk|new". */
  resumedWith: string | undefined;
  blocks: TraceBlock[];
  datapathActions: string;
}

export function parseTrace(text: string): TraceSection[] {
  const sections: TraceSection[] = [];
  let section: TraceSection | undefined;
  let block: TraceBlock | undefined;
  let step: TraceStep | undefined;
  const newSection = (resumedWith: string | undefined) => {
    section = { resumedWith, blocks: [], datapathActions: '' };
    sections.push(section);
    block = undefined;
    step = undefined;
  };
  for (const line of text.split('\n')) {
    const recirc = /^recirc\(0x[0-9a-f]+\) - resume conntrack with (?:default )?ct_state=(\S+)/.exec(line);
    if (recirc) {
      newSection(recirc[1]);
      continue;
    }
    if (!section) newSection(undefined);
    const bridge = /^bridge\("([^"]+)"\)/.exec(line);
    if (bridge) {
      block = { bridge: bridge[1]!, steps: [] };
      section!.blocks.push(block);
      step = undefined;
      continue;
    }
    const dp = /^Datapath actions: (.*)$/.exec(line);
    if (dp) {
      section!.datapathActions = dp[1]!.trim();
      continue;
    }
    if (/^(Flow|Final flow|Megaflow): /.test(line)) {
      block = undefined;
      step = undefined;
      continue;
    }
    if (!block || !line.trim() || /^[-=]+$/.test(line)) continue;
    // A step of the bridge's own pipeline starts at the margin; one reached by resubmit is
    // indented under the step that resubmitted, and stays one of its lines.
    const head = /^ {0,2}(\d+)\. (.*)$/.exec(line);
    if (head) {
      step = { table: Number(head[1]), head: head[2]!, lines: [] };
      block.steps.push(step);
      continue;
    }
    if (!step) {
      step = { table: undefined, head: '', lines: [] };
      block.steps.push(step);
    }
    step.lines.push(line.replace(/^ {4}/, ''));
  }
  return sections.filter((s) => s.blocks.length || s.datapathActions);
}

const INTEGRATION = 'br-int';

/** Table numbers in br-int text become names: table=N, goto_table:N, resubmit(,N), "table N". */
export function nameBrIntTables(text: string): string {
  return nameTables(text).replace(/\btable (\d+)\b/g, (m, n) => (tableNameOf(Number(n)) ? `table ${tableNameOf(Number(n))}` : m));
}

const WIDTH = 12;

/** "    40. ip, priority 10" (a step reached by resubmit) -> "    ingress_ct: ip, priority 10". */
const nameResubmitted = (line: string) => line.replace(/^(\s*)(\d+)\. /, (m, sp, n) => (tableNameOf(Number(n)) ? `${sp}${tableNameOf(Number(n))}: ` : m));

/** The trace as lines: each table step of br-int under its name, other bridges by number. */
export function renderTrace(sections: readonly TraceSection[]): string[] {
  const out: string[] = [];
  let bridge: string | undefined;
  for (const s of sections) {
    if (s.resumedWith) out.push(`  ~~ conntrack answered ct_state=${s.resumedWith}; the packet goes on ~~`);
    for (const b of s.blocks) {
      const ours = b.bridge === INTEGRATION;
      const name = (text: string) => (ours ? nameBrIntTables(text) : text);
      if (b.bridge !== bridge) out.push(b.bridge);
      bridge = b.bridge;
      for (const st of b.steps) {
        // The thaw step of a recirculation only repeats where the section header says it resumes.
        if (st.table === undefined) continue;
        const label = ours ? (tableNameOf(st.table) ?? String(st.table)) : `table ${st.table}`;
        out.push(`  ${label.padEnd(WIDTH)} ${name(st.head)}`);
        for (const l of st.lines) out.push(`  ${''.padEnd(WIDTH)}   ${ours ? nameResubmitted(name(l)) : l}`.trimEnd());
      }
    }
  }
  return out;
}

export type Verdict =
  | { kind: 'output'; outputs: { ofport: number; tunnelTo?: string }[] }
  | { kind: 'controller' }
  | { kind: 'drop'; table: string | undefined; reason: string };

/**
 * Where the packet ends up: every br-int output:N of every pass (a ct(table=) fork sends a copy on
 * to the next recirculation, and a flood outputs in several passes), except those the switch
 * skipped (">> skipping output to input port"); else a punt to the controller (the agent); else
 * a drop, in the br-int table the last pass ended in.
 */
export function traceVerdict(sections: readonly TraceSection[]): Verdict {
  if (!sections.length) return { kind: 'drop', table: undefined, reason: 'the switch printed no trace' };
  const outputs: { ofport: number; tunnelTo?: string }[] = [];
  let controller = false;
  for (const section of sections) {
    let tunDst: string | undefined;
    const lines = section.blocks.filter((b) => b.bridge === INTEGRATION).flatMap((b) => b.steps.flatMap((st) => st.lines.map((l) => l.trim())));
    lines.forEach((l, i) => {
      const tun = /^set_field:([0-9a-f.:]+)->tun_dst/.exec(l);
      if (tun) tunDst = tun[1];
      const o = /^output:(\d+)$/.exec(l);
      if (o && !lines[i + 1]?.startsWith('>>')) outputs.push({ ofport: Number(o[1]), ...(tunDst ? { tunnelTo: tunDst } : {}) });
      if (/^(CONTROLLER:|controller\()/.test(l)) controller = true;
    });
  }
  if (outputs.length) return { kind: 'output', outputs };
  if (controller) return { kind: 'controller' };
  const steps = sections[sections.length - 1]!.blocks.filter((b) => b.bridge === INTEGRATION).flatMap((b) => b.steps);
  const lastStep = [...steps].reverse().find((st) => st.table !== undefined);
  const table = lastStep?.table === undefined ? undefined : (tableNameOf(lastStep.table) ?? String(lastStep.table));
  const skipped = steps.some((st) => st.lines.some((l) => l.trim().startsWith('>> skipping output to input port')));
  const reason = skipped ? 'its only output is the port it came from'
    : lastStep?.head.startsWith('No match') ? 'no flow matched' : lastStep ? `flow "${nameBrIntTables(lastStep.head)}" drops it` : 'dropped';
  return { kind: 'drop', table, reason };
}
