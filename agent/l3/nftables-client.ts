// nftables inside router namespaces, through libnftables (the library behind `nft`) called in the
// agent's own process (koffi): a context per namespace, made inside it (host/netns-enter.ts) so that
// its netlink socket stays bound there. A floating IP remap is one such call on the failover's
// critical path: about 0.1 ms, where the Python helper this replaces took 1-2 ms, nearly all of it
// waking that process up and being woken by its answer (docs/NOTES.md).
//
// Each line is one transaction: all of it is committed, or none of it (libnftables' own batch).
// The call is synchronous and short (the kernel commits inside it); run() still answers with a
// promise, so that callers do not depend on that.
import { createRequire } from 'node:module';
import { checkNetnsName } from '../host/netns.ts';
import { NetnsHandles } from '../host/netns-enter.ts';

export class NftablesError extends Error {
  constructor(
    readonly netns: string | undefined,
    message: string,
  ) {
    super(netns ? `nft in ${netns}: ${message}` : `libnftables: ${message}`);
    this.name = 'NftablesError';
  }
}

type Context = unknown;

interface Libnftables {
  ctxNew: (flags: number) => Context | null;
  ctxFree: (ctx: Context) => void;
  bufferOutput: (ctx: Context) => number;
  bufferError: (ctx: Context) => number;
  output: (ctx: Context) => string | null;
  error: (ctx: Context) => string | null;
  run: (ctx: Context, line: string) => number;
}

let lib: Libnftables | undefined;

function loadLibnftables(): Libnftables {
  if (lib) return lib;
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  let so: ReturnType<typeof koffi.load>;
  try {
    so = koffi.load('libnftables.so.1');
  } catch (e) {
    throw new NftablesError(undefined, `cannot be loaded (Debian package libnftables1): ${(e as Error).message}`);
  }
  koffi.opaque('nft_ctx');
  lib = {
    ctxNew: so.func('nft_ctx *nft_ctx_new(uint32_t flags)'),
    ctxFree: so.func('void nft_ctx_free(nft_ctx *ctx)'),
    bufferOutput: so.func('int nft_ctx_buffer_output(nft_ctx *ctx)'),
    bufferError: so.func('int nft_ctx_buffer_error(nft_ctx *ctx)'),
    output: so.func('const char *nft_ctx_get_output_buffer(nft_ctx *ctx)'),
    error: so.func('const char *nft_ctx_get_error_buffer(nft_ctx *ctx)'),
    run: so.func('int nft_run_cmd_from_buffer(nft_ctx *nft, const char *buf)'),
  };
  return lib;
}

export class NftablesClient {
  private readonly contexts = new NetnsHandles<Context>(() => {
    const l = loadLibnftables();
    const ctx = l.ctxNew(0);
    if (!ctx) throw new Error('nft_ctx_new failed');
    l.bufferOutput(ctx);
    l.bufferError(ctx);
    return ctx;
  }, (ctx) => lib!.ctxFree(ctx));

  /** Namespaces with a context open (tests). */
  get open(): readonly string[] {
    return this.contexts.names();
  }

  /** Runs `line` (commands separated by `;`) in `netns` as one transaction; rejects with nft's error. */
  run(netns: string, line: string): Promise<void> {
    try {
      this.runNow(netns, line);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  /** Closes the namespace's context (before the namespace goes away). */
  forget(netns: string): void {
    this.contexts.forget(netns);
  }

  /** Closes every context. */
  close(): void {
    for (const netns of this.contexts.names()) this.forget(netns);
  }

  private runNow(netns: string, line: string): void {
    checkNetnsName(netns);
    if (/[\n\r\t]/.test(line)) throw new NftablesError(netns, 'a command line cannot contain a newline or a tab');
    const l = loadLibnftables();
    let ctx: Context;
    try {
      ctx = this.contexts.get(netns);
    } catch (e) {
      throw e instanceof NftablesError ? e : new NftablesError(netns, (e as Error).message);
    }
    const rc = l.run(ctx, line);
    l.output(ctx); // read, so that the buffer starts empty next time
    const error = (l.error(ctx) ?? '').trim();
    if (rc !== 0) throw new NftablesError(netns, error || `failed (${rc})`);
  }
}
