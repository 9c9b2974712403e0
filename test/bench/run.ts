import { apiBench } from './api.ts';

// npm run bench: every benchmark prints its figures; none of them asserts.
await apiBench();
