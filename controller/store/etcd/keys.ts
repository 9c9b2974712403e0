// Where the model lives in etcd. Under one prefix (default /weft/):
//   m/head               {"revision":W,"commit":"<id>","requests":[...]}: Weft's revision, rewritten by every commit;
//                        every commit is guarded by its mod_revision, so commits are serialized
//   m/d/<kind>/<id>      a document (JSON)
//   m/c/<scope>/<key>    a uniqueness claim (IP in a subnet, MAC in a network, VNI, ...): its owner
//   s/...                state shared by the replicas outside the model (../shared-state.ts): tickets, tokens,
//                        agent presence (s/presence/, ../../sync/replica-presence.ts)
// Kinds, ids, scopes and claim keys are URI-encoded, so that a '/' in a CIDR cannot shift a field.

export type ModelKey =
  | { type: 'head' }
  | { type: 'doc'; kind: string; id: string }
  | { type: 'claim'; scope: string; key: string };

export interface HeadValue {
  revision: number;
  /** The id of the commit that wrote it: a commit whose answer was lost finds out whether it landed. */
  commit: string;
  /** The API requests the commit was made for (agents' logs name them). */
  requests?: string[];
}

export class EtcdKeys {
  readonly model: string;
  readonly head: string;
  readonly shared: string;

  constructor(readonly prefix = '/weft/') {
    if (!prefix.endsWith('/')) throw new Error(`the etcd prefix must end with '/': ${prefix}`);
    this.model = `${prefix}m/`;
    this.head = `${this.model}head`;
    this.shared = `${prefix}s/`;
  }

  doc(kind: string, id: string): string {
    return `${this.model}d/${encodeURIComponent(kind)}/${encodeURIComponent(id)}`;
  }

  claim(scope: string, key: string): string {
    return `${this.model}c/${encodeURIComponent(scope)}/${encodeURIComponent(key)}`;
  }

  parse(key: string): ModelKey | undefined {
    if (!key.startsWith(this.model)) return undefined;
    const rest = key.slice(this.model.length);
    if (rest === 'head') return { type: 'head' };
    const [type, a, b, ...extra] = rest.split('/');
    if (a === undefined || b === undefined || extra.length) return undefined;
    if (type === 'd') return { type: 'doc', kind: decodeURIComponent(a), id: decodeURIComponent(b) };
    if (type === 'c') return { type: 'claim', scope: decodeURIComponent(a), key: decodeURIComponent(b) };
    return undefined;
  }
}

/** The end of etcd's range of every key starting with `prefix` (the prefix with its last byte + 1). */
export function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

export function parseHead(value: Buffer | Uint8Array | string): HeadValue {
  const head = JSON.parse(value.toString()) as Partial<HeadValue>;
  if (typeof head.revision !== 'number' || typeof head.commit !== 'string') throw new Error(`not a Weft head: ${value.toString()}`);
  return { revision: head.revision, commit: head.commit, ...(Array.isArray(head.requests) ? { requests: head.requests } : {}) };
}
