// The single-pass writer must produce exactly the bytes of the general codec.
import { describe, expect, it } from 'vitest';
import { MessageWriter } from '../../../agent/openflow/fast-encode.ts';
import { makeFlowMod, type FlowMod } from '../../../agent/openflow/flowmod.ts';
import { decodeMessage, encodeMessage, type OfMessage } from '../../../agent/openflow/messages.ts';
import { toFlowMod } from '../../../agent/pipeline/flow.ts';
import { syntheticFlows } from '../../helpers/flowsets.ts';
import { catalog } from './catalog.ts';

const bundleAdd = (xid: number, fm: FlowMod): OfMessage => ({
  type: 'bundleAdd', xid, bundleId: 0x2a, flags: 3, message: { type: 'flowMod', xid, ...fm },
});

/** Odd but valid values the fast paths must hand to the general codec or write identically. */
const edgeCases: FlowMod[] = [
  makeFlowMod({ match: { ethSrc: 'FA:16:3E:0A:0B:0C', ethDst: 'fa:16:3e:00:00:01/ff:ff:ff:00:00:00' } }),
  makeFlowMod({ match: { ethDst: '1:2:3:4:5:6' } }),
  makeFlowMod({ match: { reg0: { value: 5, mask: 0xffffffff }, metadata: { value: 7n, mask: (1n << 64n) - 1n } } }),
  makeFlowMod({ match: { tunnelId: { value: 0xffff_ffff_ffffn } } }),
  makeFlowMod({
    command: 'deleteStrict', cookie: 0xabcn, cookieMask: (1n << 64n) - 1n, priority: 0, match: { inPort: 0xfffffffe },
  }),
  makeFlowMod({
    instructions: [{
      type: 'applyActions',
      actions: [
        { type: 'setField', field: 'reg7', value: { value: 3, mask: 0xffffffff } },
        { type: 'setField', field: 'reg6', value: { value: 3, mask: 0xff } },
        { type: 'setField', field: 'metadata', value: { value: 9n } },
        { type: 'setField', field: 'ethSrc', value: 'fa:16:3e:00:00:aa' },
        { type: 'output', port: 7, maxLen: 128 },
      ],
    }, { type: 'writeActions', actions: [] }, { type: 'gotoTable', tableId: 200 }],
  }),
];

describe('MessageWriter', () => {
  it('writes BUNDLE_ADDs of the whole catalogue byte for byte like encodeMessage', () => {
    const flows = [...catalog(), ...edgeCases, ...syntheticFlows(30).map((f) => toFlowMod(f, 3))];
    for (const [i, fm] of flows.entries()) {
      const w = new MessageWriter(64);
      w.bundleAddFlowMod(1000 + i, 0x2a, 3, fm);
      const want = encodeMessage(bundleAdd(1000 + i, fm));
      expect(w.take().toString('hex'), `flow #${i}`).toBe(want.toString('hex'));
    }
  });

  it('writes plain FLOW_MODs and other messages the same way too, many per buffer', () => {
    const w = new MessageWriter(16);
    const msgs: OfMessage[] = [
      ...catalog().map((fm, i): OfMessage => ({ type: 'flowMod', xid: i + 1, ...fm })),
      { type: 'barrierRequest', xid: 99 },
      bundleAdd(100, catalog()[3]),
      { type: 'bundleAdd', xid: 101, bundleId: 1, flags: 0, message: { type: 'barrierRequest', xid: 101 } },
    ];
    for (const m of msgs) w.message(m);
    expect(w.take().toString('hex')).toBe(Buffer.concat(msgs.map(encodeMessage)).toString('hex'));
    expect(w.length).toBe(0);
  });

  it('rejects what the general codec rejects and leaves nothing half written', () => {
    const w = new MessageWriter();
    w.flowMod(1, makeFlowMod({}));
    const before = w.length;
    expect(() => w.flowMod(2, makeFlowMod({ match: { inPort: 2 ** 32 } }))).toThrow(/does not fit/);
    expect(() => w.flowMod(3, makeFlowMod({ match: { ethDst: 'not-a-mac' } }))).toThrow(/MAC/);
    expect(() => w.bundleAddFlowMod(4, 1, 0, makeFlowMod({ match: { reg3: { value: -1 } } }))).toThrow();
    expect(w.length).toBe(before);
    expect(decodeMessage(w.take())).toMatchObject({ type: 'flowMod', xid: 1 });
  });
});
