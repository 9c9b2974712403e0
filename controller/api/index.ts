import type { ApiPlugin } from './context.ts';
import { networksApi } from './networks/index.ts';

/** Every API resource, in the order its routes are registered. */
export const apiPlugins: ApiPlugin[] = [networksApi];
