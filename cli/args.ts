// The command line, taken apart without side effects: a command is found by its words (`lab up`),
// then its positional arguments and options (`--name X`, `--name=X`, `--json`), checked against its
// spec. Anything wrong is a UsageError (exit 2) that says what and shows the command's usage.

export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(message: string, readonly usage?: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

export interface OptionSpec {
  name: string;
  /** boolean: a flag; string/int: takes a value (`--x v` or `--x=v`). */
  type: 'boolean' | 'string' | 'int';
  help: string;
  /** Shown in usage for options with a value, e.g. SECONDS. */
  placeholder?: string;
  choices?: readonly string[];
  /** Inclusive bounds of an int. */
  min?: number;
  max?: number;
}

export interface ArgSpec {
  name: string;
  optional?: boolean;
}

export interface CommandSpec {
  /** The words that name it, e.g. ['fip', 'move']. */
  words: readonly string[];
  args: readonly ArgSpec[];
  options: readonly OptionSpec[];
  summary: string;
}

export type OptionValue = string | number | boolean;

export interface ParsedCommand {
  command: CommandSpec;
  args: Record<string, string>;
  options: Record<string, OptionValue>;
}

export type ParseResult = { kind: 'run'; parsed: ParsedCommand } | { kind: 'help'; text: string };

export const commandName = (c: CommandSpec): string => c.words.join(' ');

function optionUsage(o: OptionSpec): string {
  if (o.type === 'boolean') return `--${o.name}`;
  return `--${o.name} ${o.choices ? o.choices.join('|') : (o.placeholder ?? (o.type === 'int' ? 'N' : 'VALUE'))}`;
}

export function commandUsage(c: CommandSpec, globals: readonly OptionSpec[] = []): string {
  const args = c.args.map((a) => (a.optional ? `[${a.name}]` : a.name));
  const lines = [`usage: weft ${[commandName(c), ...args].join(' ')}${c.options.length ? ' [options]' : ''}`, '', `  ${c.summary}`];
  const all = [...c.options, ...globals];
  if (all.length) {
    lines.push('', 'options:');
    const width = Math.max(...all.map((o) => optionUsage(o).length));
    for (const o of all) lines.push(`  ${optionUsage(o).padEnd(width)}  ${o.help}`);
  }
  return lines.join('\n');
}

export function mainUsage(commands: readonly CommandSpec[], globals: readonly OptionSpec[]): string {
  const width = Math.max(...commands.map((c) => synopsis(c).length));
  const gw = Math.max(...globals.map((o) => optionUsage(o).length));
  return [
    'usage: weft COMMAND [options]',
    '',
    'commands:',
    ...commands.map((c) => `  ${synopsis(c).padEnd(width)}  ${c.summary}`),
    '',
    'options of every command:',
    ...globals.map((o) => `  ${optionUsage(o).padEnd(gw)}  ${o.help}`),
    '',
    "`weft COMMAND --help` shows a command's options.",
  ].join('\n');
}

const synopsis = (c: CommandSpec) => [commandName(c), ...c.args.map((a) => (a.optional ? `[${a.name}]` : a.name))].join(' ');

function convert(o: OptionSpec, raw: string, usage: string): OptionValue {
  if (o.choices && !o.choices.includes(raw)) throw new UsageError(`--${o.name} must be one of ${o.choices.join(', ')}, not '${raw}'`, usage);
  if (o.type !== 'int') return raw;
  if (!/^-?\d+$/.test(raw)) throw new UsageError(`--${o.name} needs a whole number, not '${raw}'`, usage);
  const n = Number(raw);
  if ((o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) {
    throw new UsageError(`--${o.name} must be between ${o.min ?? '-∞'} and ${o.max ?? '∞'}, not ${n}`, usage);
  }
  return n;
}

/** Parses argv (without node and the script). `--help` anywhere, or `help [COMMAND]`, asks for usage. */
export function parseCommandLine(argv: readonly string[], commands: readonly CommandSpec[], globals: readonly OptionSpec[]): ParseResult {
  const main = mainUsage(commands, globals);
  const words = argv[0] === 'help' ? argv.slice(1) : argv;
  const wantsHelp = argv[0] === 'help' || argv.includes('--help') || argv.includes('-h');
  // The longest run of leading words that names a command.
  const command = [...commands]
    .sort((a, b) => b.words.length - a.words.length)
    .find((c) => c.words.every((w, i) => words[i] === w));
  if (!command) {
    if (wantsHelp || !words.length) return { kind: 'help', text: main };
    const group = commands.filter((c) => c.words[0] === words[0]);
    if (group.length) {
      const which = group.map((c) => commandName(c)).join(', ');
      throw new UsageError(words.length > 1 ? `unknown command '${words.slice(0, 2).join(' ')}' (have ${which})` : `'${words[0]}' needs a subcommand: ${which}`);
    }
    throw new UsageError(`unknown command '${words[0]}' (weft --help lists the commands)`);
  }
  const usage = commandUsage(command, globals);
  if (wantsHelp) return { kind: 'help', text: usage };

  const specs = new Map([...command.options, ...globals].map((o) => [o.name, o]));
  const positional: string[] = [];
  const options: Record<string, OptionValue> = {};
  const rest = words.slice(command.words.length);
  for (let i = 0; i < rest.length; i++) {
    const token = rest[i]!;
    if (token === '--') {
      positional.push(...rest.slice(i + 1));
      break;
    }
    if (!token.startsWith('--') || token === '--') {
      if (token.startsWith('-') && token.length > 1 && !/^-\d/.test(token)) throw new UsageError(`unknown option '${token}'`, usage);
      positional.push(token);
      continue;
    }
    const eq = token.indexOf('=');
    const name = token.slice(2, eq < 0 ? undefined : eq);
    const spec = specs.get(name);
    if (!spec) throw new UsageError(`unknown option '--${name}' for 'weft ${commandName(command)}'`, usage);
    if (spec.type === 'boolean') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`, usage);
      options[name] = true;
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = token.slice(eq + 1);
    else if (i + 1 < rest.length && !rest[i + 1]!.startsWith('--')) value = rest[++i];
    if (value === undefined || value === '') throw new UsageError(`--${name} needs a value (${optionUsage(spec)})`, usage);
    options[name] = convert(spec, value, usage);
  }
  const required = command.args.filter((a) => !a.optional).length;
  if (positional.length < required) {
    const missing = command.args.slice(positional.length).filter((a) => !a.optional).map((a) => a.name);
    throw new UsageError(`missing ${missing.join(' and ')}`, usage);
  }
  if (positional.length > command.args.length) throw new UsageError(`unexpected argument '${positional[command.args.length]}'`, usage);
  const args: Record<string, string> = {};
  command.args.forEach((a, i) => {
    if (positional[i] !== undefined) args[a.name] = positional[i]!;
  });
  return { kind: 'run', parsed: { command, args, options } };
}
