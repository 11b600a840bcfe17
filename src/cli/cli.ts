/** Argument parsing, help, dispatch and the one-line error contract of `qinspect`. */
import { parseArgs } from 'util';
import { CancelledError, InputError, errorMessage } from '../util/errors';
import { COMMON_OPTIONS, CliContext, Command, OptionSpec, ParsedArgs } from './command';
import { COMMANDS } from './commands';
import { configureLimits } from '../onnx/limits';
import { numberOption } from './options';
import { ProgressSink, createProgress, stderrSink } from './progress';

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  progressSink: ProgressSink;
}

export const processIO = (): CliIO => ({
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  progressSink: stderrSink(),
});

export function findCommand(name: string, commands: readonly Command[] = COMMANDS): Command | undefined {
  return commands.find((c) => c.name === name);
}

/** Runs one `qinspect` invocation and returns its exit code: 0 success, 1 error (one `error: ...` line on stderr). */
export async function runCli(argv: string[], io: CliIO = processIO(), commands: readonly Command[] = COMMANDS): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    return await dispatch(argv, io, commands);
  } catch (e) {
    io.stderr(`error: ${oneLine(describeError(e, debug))}\n`);
    if (debug && e instanceof Error && !(e instanceof InputError) && e.stack) io.stderr(`${e.stack}\n`);
    return 1;
  }
}

function describeError(e: unknown, debug: boolean): string {
  if (e instanceof InputError || e instanceof CancelledError) return e.message;
  return `unexpected ${e instanceof Error ? e.name : 'error'}: ${errorMessage(e)}${debug ? '' : ' (run with --debug for the stack trace)'}`;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

async function dispatch(argv: string[], io: CliIO, commands: readonly Command[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const target = name === 'help' && rest[0] ? findCommand(rest[0], commands) : undefined;
    if (name === 'help' && rest[0] && !target) throw unknownCommand(rest[0], commands);
    io.stdout(target ? commandHelp(target) : globalHelp(commands));
    return 0;
  }
  if (name === '--version') {
    io.stdout(`${VERSION}\n`);
    return 0;
  }
  const command = findCommand(name, commands);
  if (!command) throw unknownCommand(name, commands);
  const args = parseCommandArgs(command, rest);
  if (args.values.help) {
    io.stdout(commandHelp(command));
    return 0;
  }
  configureLimits({
    maxModelSizeMB: numberOption(args, 'max-model-mb', { min: 0.001 }),
    maxTensorElements: numberOption(args, 'max-tensor-elements', { integer: true, min: 1 }),
  });
  const ctx: CliContext = {
    out: (line) => io.stdout(`${line}\n`),
    err: (line) => io.stderr(`${line}\n`),
    progress: (label, total) => createProgress(label, total, io.progressSink),
    json: args.values.json === true,
    debug: args.values.debug === true,
  };
  return (await command.run(args, ctx)) ?? 0;
}

declare const QINSPECT_VERSION: string | undefined;
const VERSION = typeof QINSPECT_VERSION === 'string' ? QINSPECT_VERSION : '0.1.0';

function unknownCommand(name: string, commands: readonly Command[]): InputError {
  return new InputError(`unknown command '${name}'; commands: ${commands.map((c) => c.name).join(', ')} (qinspect --help)`);
}

export function parseCommandArgs(command: Command, argv: string[]): ParsedArgs {
  const options = { ...command.options, ...COMMON_OPTIONS };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.entries(options).map(([k, o]) => [k, o.short ? { type: o.type, short: o.short } : { type: o.type }])),
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new InputError(`${command.name}: ${errorMessage(e).replace(/\. To specify a positional.*$/, '')} (qinspect ${command.name} --help)`);
  }
  const values = parsed.values as ParsedArgs['values'];
  if (values.help) return { positionals: parsed.positionals, values };
  const required = command.positionals.filter((p) => !p.endsWith('?'));
  if (parsed.positionals.length < required.length) {
    throw new InputError(`${command.name}: missing ${required.slice(parsed.positionals.length).join(', ')} (usage: qinspect ${command.name} ${command.usage})`);
  }
  if (parsed.positionals.length > command.positionals.length) {
    throw new InputError(`${command.name}: unexpected argument '${parsed.positionals[command.positionals.length]}' (usage: qinspect ${command.name} ${command.usage})`);
  }
  return { positionals: parsed.positionals, values };
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  const entries = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.valueName ?? 'VALUE'}` : ''}`;
    return [flag, o.description] as const;
  });
  const width = Math.max(...entries.map(([f]) => f.length));
  return entries.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`);
}

export function commandHelp(command: Command): string {
  const lines = [
    `usage: qinspect ${command.name} ${command.usage}`,
    '',
    command.summary,
    '',
    'options:',
    ...optionLines({ ...command.options, ...COMMON_OPTIONS }),
  ];
  if (command.details) lines.push('', command.details.trimEnd());
  return `${lines.join('\n')}\n`;
}

export function globalHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: qinspect COMMAND [arguments] [--json] [--debug]',
    '',
    'Quant Inspector: layer-wise post-training quantization of ONNX image classifiers.',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'qinspect COMMAND --help' for a command's options.",
    '',
  ].join('\n');
}
