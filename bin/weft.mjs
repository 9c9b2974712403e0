#!/usr/bin/env node
// weft: the operator's command line (cli/main.ts), run through tsx so no build step is needed.
import { register } from 'tsx/esm/api';

register();
const { runMain } = await import('../cli/main.ts');
await runMain();
