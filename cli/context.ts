// What a command gets: its parsed arguments, the environment, where to print (results on stdout,
// progress on stderr, so that `--json` output stays clean), and the API client, made on first use.
import type { OptionValue } from './args.ts';
import { createClient, type Client } from './client.ts';
import { adminToken, controllerUrl, type Env } from './config.ts';

export interface CommandContext {
  readonly args: Record<string, string>;
  readonly options: Record<string, OptionValue>;
  readonly env: Env;
  readonly json: boolean;
  /** A result line (or the JSON document) on stdout. */
  out(text: string): void;
  /** A progress line on stderr. */
  progress(text: string): void;
  client(): Client;
}

export interface ContextInput {
  args: Record<string, string>;
  options: Record<string, OptionValue>;
  env: Env;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export function makeContext(i: ContextInput): CommandContext {
  let client: Client | undefined;
  return {
    args: i.args,
    options: i.options,
    env: i.env,
    json: i.options.json === true,
    out: (text) => i.stdout(`${text}\n`),
    progress: (text) => i.stderr(`weft: ${text}\n`),
    client: () => (client ??= createClient(controllerUrl(i.options, i.env), adminToken(i.options, i.env))),
  };
}

export const optString = (ctx: CommandContext, name: string): string | undefined =>
  typeof ctx.options[name] === 'string' ? (ctx.options[name] as string) : undefined;

export const optInt = (ctx: CommandContext, name: string): number | undefined =>
  typeof ctx.options[name] === 'number' ? (ctx.options[name] as number) : undefined;

export const optFlag = (ctx: CommandContext, name: string): boolean => ctx.options[name] === true;

/** Prints `data` as JSON with --json, else the human text. */
export function emit(ctx: CommandContext, data: unknown, text: () => string): void {
  ctx.out(ctx.json ? JSON.stringify(data, null, 2) : text());
}
