// Public surface of the OVSDB client (RFC 7047) for the agent.
export * from './datum.ts';
export * from './schema.ts';
export * from './ops.ts';
export * from './errors.ts';
export * from './json-stream.ts';
export * from './connection.ts';
export * from './replica.ts';
export * from './monitor.ts';
export * from './open-vswitch.ts';
export * from './bridge.ts';
export * from './port.ts';
export * from './interface-watch.ts';
