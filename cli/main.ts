// weft: the operator's command line (bin/weft.mjs runs this through tsx). `run` does everything but
// touch the process, so tests can call it; the bottom of the file wires it to argv and the exit code.
// Exit codes: 0 done, 1 failed (the message says why), 2 wrong usage.
import { fileURLToPath } from 'node:url';
import { CliError, commandName, parseCommandLine, UsageError, type CommandSpec } from './args.ts';
import { COMMANDS, GLOBAL_OPTIONS } from './commands.ts';
import { agentEnrolCommand, agentRevokeCommand } from './commands/agent.ts';
import { fipMoveCommand } from './commands/fip.ts';
import { labDownCommand, labUpCommand } from './commands/lab.ts';
import { plugCommand, unplugCommand } from './commands/plug.ts';
import { statusCommand } from './commands/status.ts';
import { traceCommand } from './commands/trace.ts';
import type { Env } from './config.ts';
import { makeContext, type CommandContext } from './context.ts';

const HANDLERS: Record<string, (ctx: CommandContext) => Promise<void>> = {
  status: statusCommand,
  plug: plugCommand,
  unplug: unplugCommand,
  trace: traceCommand,
  'fip move': fipMoveCommand,
  'lab up': labUpCommand,
  'lab down': labDownCommand,
  'agent enrol': agentEnrolCommand,
  'agent revoke': agentRevokeCommand,
};

export interface RunIo {
  env: Env;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** Runs one command line and resolves with the exit code. */
export async function run(argv: readonly string[], io: RunIo): Promise<number> {
  let command: CommandSpec | undefined;
  try {
    const parsed = parseCommandLine(argv, COMMANDS, GLOBAL_OPTIONS);
    if (parsed.kind === 'help') {
      io.stdout(`${parsed.text}\n`);
      return 0;
    }
    command = parsed.parsed.command;
    const handler = HANDLERS[commandName(command)];
    if (!handler) throw new CliError(`'${commandName(command)}' has no implementation`);
    await handler(makeContext({ ...parsed.parsed, env: io.env, stdout: io.stdout, stderr: io.stderr }));
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`weft: ${e.message}\n${e.usage ? `\n${e.usage}\n` : ''}`);
      return e.exitCode;
    }
    if (e instanceof CliError) {
      io.stderr(`weft${command ? ` ${commandName(command)}` : ''}: ${e.message}\n`);
      return e.exitCode;
    }
    // Not one of ours: a bug or a failing tool; say what it was, with the stack for a report.
    const err = e as Error;
    io.stderr(`weft${command ? ` ${commandName(command)}` : ''}: ${err?.message ?? String(e)}\n${io.env.WEFT_DEBUG ? `${err?.stack}\n` : '(WEFT_DEBUG=1 shows the stack)\n'}`);
    return 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await runMain();

/** The process entry: argv in, exit code out (bin/weft.mjs). */
export async function runMain(): Promise<void> {
  const code = await run(process.argv.slice(2), {
    env: process.env,
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
  });
  // Let stdout drain (a pipe may be slow) before leaving with the code.
  process.exitCode = code;
}
