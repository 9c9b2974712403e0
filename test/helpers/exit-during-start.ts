// For teardown.test.ts: a run that ends with process.exit (no signal, so no teardown registry)
// while its controller is still starting, after the delay in ms given as its argument.
import { startController } from './controller-process.ts';

void startController().catch(() => undefined);
setTimeout(() => process.exit(1), Number(process.argv[2]));
