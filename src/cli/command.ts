/** The contract every `qinspect` command implements; commands live in src/cli/commands/ and are listed in commands/index.ts. */
import type { Progress } from './progress';

export interface OptionSpec {
  type: 'string' | 'boolean';
  description: string;
  /** Shown in help, e.g. 'N' for `--limit N`. */
  valueName?: string;
  short?: string;
}

export interface ParsedArgs {
  positionals: string[];
  values: Record<string, string | boolean | undefined>;
}

export interface CliContext {
  /** A line on stdout (results). */
  out(line: string): void;
  /** A line on stderr (warnings, notes). */
  err(line: string): void;
  /** A progress bar on stderr, shown only for runs longer than a second. */
  progress(label: string, total: number): Progress;
  json: boolean;
  debug: boolean;
  /** More jobs on the same model and images follow in this process (the demo): keep what they can reuse. */
  moreRunsFollow?: boolean;
}

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Arguments after the command name, e.g. 'MODEL --data PATH [options]'. */
  usage: string;
  options: Record<string, OptionSpec>;
  /** Positional arguments: names shown in errors, all required unless marked with '?'. */
  positionals: string[];
  /** Extra help text (examples), printed after the options. */
  details?: string;
  /** Returns the exit code (0 when omitted). Throw InputError for bad input. */
  run(args: ParsedArgs, ctx: CliContext): Promise<number | void> | number | void;
}

/** Options every command accepts. */
export const COMMON_OPTIONS: Record<string, OptionSpec> = {
  json: { type: 'boolean', description: 'print one JSON object as the last line of stdout' },
  debug: { type: 'boolean', description: 'print stack traces of unexpected errors' },
  'max-model-mb': { type: 'string', valueName: 'MB', description: 'refuse model files (plus external data) over MB megabytes (default 1024)' },
  'max-tensor-elements': { type: 'string', valueName: 'N', description: 'refuse tensors with more elements than this (default 268435456)' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};
