// Weft's OpenFlow 1.3 + Nicira extension codec and switch connection.
export * from './addr.ts';
export * from './fields.ts';
export * from './match.ts';
export * from './actions.ts';
export * from './nicira.ts';
export * from './flowmod.ts';
export * from './header.ts';
export * from './messages.ts';
export * from './errors.ts';
export * from './connection.ts';
export * from './batch.ts';
export * from './render.ts';
