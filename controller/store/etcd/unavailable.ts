import { NeutronError } from '../../errors.ts';

/** etcd did not answer in time: the API says 503, as Neutron does when its database is gone. */
export class StoreUnavailableError extends NeutronError {
  constructor(cause: unknown) {
    super(503, 'ServiceUnavailable', `The store (etcd) did not answer in time: ${String((cause as Error)?.message ?? cause)}`);
  }
}

/** `promise`, or StoreUnavailableError once `deadline` (epoch ms) has passed. */
export function withDeadline<T>(promise: Promise<T>, deadline: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailableError('the watch did not catch up')), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
