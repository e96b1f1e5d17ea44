// Small helpers for strict flag parsing with errors that say which flag is wrong and how to fix it.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseDurationMs } from '../model/duration.ts';

export class UsageError extends Error {}

export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function portFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--${name}: expected a port number 0-65535, found ${JSON.stringify(value)}`);
  return n;
}

export function requireFlag(name: string, value: string | undefined): string {
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

export function durationFlag(name: string, value: string, o: { zero?: boolean } = {}): number {
  const ms = parseDurationMs(value);
  if (ms === undefined || (ms === 0 && !o.zero)) throw new UsageError(`--${name}: expected a duration such as "500ms", "30s" or "2m"${o.zero ? ' (or 0s)' : ''}, found ${JSON.stringify(value)}`);
  return ms;
}
