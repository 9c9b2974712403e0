import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { commandUsage, parseCommandLine, UsageError, type ParsedCommand } from '../../../cli/args.ts';
import { COMMANDS, GLOBAL_OPTIONS } from '../../../cli/commands.ts';

// The command line taken apart: commands by their words, arguments, options in both spellings,
// and a UsageError (exit 2) with a clear message for everything else.

const parse = (...argv: string[]): ParsedCommand => {
  const r = parseCommandLine(argv, COMMANDS, GLOBAL_OPTIONS);
  if (r.kind !== 'run') throw new Error(`expected a command, got help:\n${r.text}`);
  return r.parsed;
};
const usageError = (...argv: string[]): UsageError => {
  try {
    parseCommandLine(argv, COMMANDS, GLOBAL_OPTIONS);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).exitCode).toBe(2);
    return e as UsageError;
  }
  throw new Error(`no usage error for ${argv.join(' ')}`);
};

describe('parseCommandLine', () => {
  it('finds one- and two-word commands with their arguments', () => {
    expect(parse('status').command.words).toEqual(['status']);
    const fip = parse('fip', 'move', '203.0.113.5', 'vm-b');
    expect([fip.command.words, fip.args]).toEqual([['fip', 'move'], { FIP: '203.0.113.5', PORT: 'vm-b' }]);
    expect(parse('unplug', 'vm1').args).toEqual({ 'PORT|NAME': 'vm1' });
    expect(parse('lab', 'down').command.words).toEqual(['lab', 'down']);
  });

  it('reads options before, between and after arguments, as --x v and --x=v', () => {
    const t = parse('trace', '--proto', 'tcp', 'p1', '--dport=22', '10.0.0.9', '--json', '--url', 'http://h:1');
    expect(t.args).toEqual({ PORT: 'p1', DST: '10.0.0.9' });
    expect(t.options).toEqual({ proto: 'tcp', dport: 22, json: true, url: 'http://h:1' });
    expect(parse('lab', 'up', '--hosts', '3', '--provider').options).toEqual({ hosts: 3, provider: true });
  });

  it('takes everything after -- as arguments (a port named like an option)', () => {
    expect(parse('unplug', '--', '--odd').args).toEqual({ 'PORT|NAME': '--odd' });
  });

  it('says what is wrong', () => {
    expect(usageError('trace', 'p1').message).toBe('missing DST');
    expect(usageError('trace').message).toBe('missing PORT and DST');
    expect(usageError('status', 'extra').message).toBe("unexpected argument 'extra'");
    expect(usageError('status', '--colour').message).toBe("unknown option '--colour' for 'weft status'");
    expect(usageError('status', '-v').message).toBe("unknown option '-v'");
    expect(usageError('trace', 'p', '1.2.3.4', '--proto', 'sctp').message).toBe("--proto must be one of icmp, tcp, udp, not 'sctp'");
    expect(usageError('trace', 'p', '1.2.3.4', '--dport', '70000').message).toBe('--dport must be between 1 and 65535, not 70000');
    expect(usageError('trace', 'p', '1.2.3.4', '--dport', 'http').message).toBe("--dport needs a whole number, not 'http'");
    expect(usageError('trace', 'p', '1.2.3.4', '--dport').message).toBe('--dport needs a value (--dport N)');
    expect(usageError('status', '--json=yes').message).toBe('--json takes no value');
    expect(usageError('lab').message).toBe("'lab' needs a subcommand: lab up, lab down");
    expect(usageError('lab', 'sideways').message).toBe("unknown command 'lab sideways' (have lab up, lab down)");
    expect(usageError('frobnicate').message).toBe("unknown command 'frobnicate' (weft --help lists the commands)");
    // A command's own mistakes come with its usage.
    expect(usageError('trace', 'p1').usage).toContain('usage: weft trace PORT DST [options]');
  });

  it('answers --help and help with usage instead of running anything', () => {
    const main = parseCommandLine(['--help'], COMMANDS, GLOBAL_OPTIONS);
    expect(main.kind).toBe('help');
    expect(parseCommandLine([], COMMANDS, GLOBAL_OPTIONS)).toEqual(main);
    const help = parseCommandLine(['help', 'fip', 'move'], COMMANDS, GLOBAL_OPTIONS);
    expect(help).toEqual({ kind: 'help', text: commandUsage(COMMANDS.find((c) => c.words.join(' ') === 'fip move')!, GLOBAL_OPTIONS) });
    expect(parseCommandLine(['plug', 'x', '--help'], COMMANDS, GLOBAL_OPTIONS).kind).toBe('help');
    if (main.kind === 'help') for (const c of COMMANDS) expect(main.text).toContain(c.words.join(' '));
  });

  it('never throws anything but a UsageError, whatever the words', () => {
    const word = fc.oneof(fc.constantFrom('status', 'plug', 'trace', 'fip', 'move', 'lab', 'up', '--json', '--dport', '--proto', '--', '-x', '--url=', 'tcp', '80'), fc.string());
    fc.assert(fc.property(fc.array(word, { maxLength: 8 }), (argv) => {
      try {
        parseCommandLine(argv, COMMANDS, GLOBAL_OPTIONS);
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
      }
    }));
  });
});
