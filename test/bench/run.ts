import { apiBench } from './api.ts';
import { flowsBench } from './flows.ts';
import { compileBench } from './compile.ts';
import { dataplaneBench } from './dataplane.ts';
import { syncBench } from './sync.ts';
import { failoverBench } from './failover.ts';
import { gatewayFailoverBench } from './gateway-failover.ts';
import { l3Bench } from './l3.ts';
import { promotionBench } from './promotion.ts';
import { storeBench } from './store.ts';
import { scaleBench } from './scale.ts';
import { tearDownOnSignals } from '../../lab/teardown.ts';

// npm run bench: every benchmark prints its figures; none of them asserts.
// `npx tsx test/bench/run.ts flows` (or `npm run bench -- api flows`) runs only the ones named.
const benches: Record<string, () => Promise<void>> = {
  api: apiBench, compile: async () => compileBench(), flows: flowsBench, sync: syncBench, dataplane: dataplaneBench, l3: l3Bench, failover: failoverBench, 'gateway-failover': gatewayFailoverBench, promotion: promotionBench, store: storeBench, scale: scaleBench,
};
const only = process.argv.slice(2);
for (const name of only) if (!benches[name]) throw new Error(`unknown benchmark '${name}' (have: ${Object.keys(benches).join(', ')})`);
tearDownOnSignals();
for (const [name, run] of Object.entries(benches)) {
  if (only.length === 0 || only.includes(name)) await run();
}
