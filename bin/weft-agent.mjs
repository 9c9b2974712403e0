#!/usr/bin/env node
// weft-agent: the host agent (agent/main.ts), run through tsx so no build step is needed.
import { register } from 'tsx/esm/api';

register();
await import('../agent/main.ts');
