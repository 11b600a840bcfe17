/** Typed reads of parsed command-line options; a bad value is an InputError naming the option. */
import * as path from 'path';
import { InputError } from '../util/errors';
import type { ParsedArgs } from './command';

export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function flagOption(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

export function numberOption(args: ParsedArgs, name: string, rule: { integer?: boolean; min?: number; max?: number } = {}): number | undefined {
  const raw = stringOption(args, name);
  if (raw === undefined) return undefined;
  const v = Number(raw);
  const what = rule.integer ? 'a whole number' : 'a number';
  if (raw.trim() === '' || !Number.isFinite(v) || (rule.integer && !Number.isSafeInteger(v))) throw new InputError(`--${name} must be ${what}, got '${raw}'`);
  if (rule.min !== undefined && v < rule.min) throw new InputError(`--${name} must be at least ${rule.min}, got ${raw}`);
  if (rule.max !== undefined && v > rule.max) throw new InputError(`--${name} must be at most ${rule.max}, got ${raw}`);
  return v;
}

/** A comma-separated list of numbers, e.g. `--mean 0.485,0.456,0.406`. */
export function numberListOption(args: ParsedArgs, name: string): number[] | undefined {
  const raw = stringOption(args, name);
  if (raw === undefined) return undefined;
  const parts = raw.split(',').map((s) => s.trim());
  const values = parts.map(Number);
  if (parts.some((p) => p === '') || values.some((v) => !Number.isFinite(v))) {
    throw new InputError(`--${name} must be comma-separated numbers (e.g. 0.485,0.456,0.406), got '${raw}'`);
  }
  return values;
}

/** A fraction like `1/255` or a plain number. */
export function scaleOption(args: ParsedArgs, name: string): number | undefined {
  const raw = stringOption(args, name);
  if (raw === undefined) return undefined;
  const m = /^\s*([0-9.eE+-]+)\s*\/\s*([0-9.eE+-]+)\s*$/.exec(raw);
  const v = m ? Number(m[1]) / Number(m[2]) : Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || v === 0) throw new InputError(`--${name} must be a non-zero number or fraction such as 1/255, got '${raw}'`);
  return v;
}

/** A path as the user would type it: relative to the working folder when it lies inside it. */
export function displayPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}
