import { invalidOption } from './errors.js';

// Option checks that run before any request: the server panics on an empty topic or group
// (docs/PROTOCOL.md §3.1), and a wrong number is better reported at the call than as a 400 later.

export function nonBlank(option: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw invalidOption(`${option} must be a non-empty string`);
  }
  return value;
}

export function positiveInt(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw invalidOption(`${option} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

export function nonNegativeInt(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw invalidOption(`${option} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

export function nonNegativeNumber(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw invalidOption(`${option} must be a non-negative number, got ${String(value)}`);
  }
  return value;
}

export function optionalFunction<F>(option: string, value: unknown): F | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'function') throw invalidOption(`${option} must be a function`);
  return value as F;
}
