#!/usr/bin/env node
// weft-controller: the controller (controller/main.ts), run through tsx so no build step is needed.
// Configuration as for `npm start`: weft.json in the working directory or WEFT_CONFIG, and WEFT_* variables.
import { register } from 'tsx/esm/api';

register();
await import('../controller/main.ts');
