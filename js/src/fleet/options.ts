import { invalidOption } from '../errors.js';
import { checkLeaseTable, defaultLeaseTable } from './lease-table.js';

// Fleet options and their defaults, checked once before any SQL is sent.

export interface FleetOptions {
  /** `ns.table`; default `<topic namespace>.consumer_leases`. */
  table?: string;
  /** Unique per running process; default `<HOSTNAME or 'worker'>-<pid>-<random>`. */
  workerId?: string;
  /** How long a lease lasts without renewal; default 15000. */
  leaseMs?: number;
  /** How often the engine should call tick(); default leaseMs / 3. */
  renewIntervalMs?: number;
  /** Commits stop this long before the lease's written expiry; default leaseMs / 5. */
  safetyMarginMs?: number;
}

export interface ResolvedFleetOptions {
  table: string;
  workerId: string;
  leaseMs: number;
  renewIntervalMs: number;
  safetyMarginMs: number;
}

export const DEFAULT_LEASE_MS = 15_000;

function randomSuffix(): string {
  const bytes = new Uint8Array(4);
  const crypto = (globalThis as { crypto?: { getRandomValues?(array: Uint8Array): Uint8Array } }).crypto;
  if (crypto?.getRandomValues) crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * A fresh id per process start. The random part matters: two processes with one id would each
 * count as the other in the fair share, and a restarted process must not mistake the rows of its
 * previous life for its own (it waits for them to expire like anyone else). HOSTNAME is the pod
 * name under Kubernetes and the container id under Docker, which makes the id readable in the table.
 */
export function defaultWorkerId(): string {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined>; pid?: number } }).process;
  const host = env?.env?.['HOSTNAME'] || 'worker';
  const pid = env?.pid === undefined ? '' : `-${env.pid}`;
  return `${host}${pid}-${randomSuffix()}`;
}

function positive(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw invalidOption(`fleet: ${name} must be a positive number of milliseconds, got ${String(value)}`);
  }
  return value;
}

/** The timing rules every lease depends on; shared by resolveFleetOptions and PartitionLeases. */
export function checkTiming(leaseMs: number, renewIntervalMs: number, safetyMarginMs: number): void {
  positive('leaseMs', leaseMs);
  positive('renewIntervalMs', renewIntervalMs);
  if (typeof safetyMarginMs !== 'number' || !Number.isFinite(safetyMarginMs) || safetyMarginMs < 0) {
    throw invalidOption(`fleet: safetyMarginMs must be a number >= 0, got ${String(safetyMarginMs)}`);
  }
  // A renewal has to land inside the window in which the lease still lets the worker commit,
  // or every lease would lapse between two renewals.
  if (renewIntervalMs >= leaseMs - safetyMarginMs) {
    throw invalidOption(
      `fleet: renewIntervalMs (${renewIntervalMs}) must be below leaseMs - safetyMarginMs (${leaseMs - safetyMarginMs})`,
    );
  }
}

export function resolveFleetOptions(topic: string, options: FleetOptions = {}): ResolvedFleetOptions {
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  positive('leaseMs', leaseMs);
  const renewIntervalMs = options.renewIntervalMs ?? leaseMs / 3;
  const safetyMarginMs = options.safetyMarginMs ?? leaseMs / 5;
  checkTiming(leaseMs, renewIntervalMs, safetyMarginMs);
  const workerId = options.workerId ?? defaultWorkerId();
  if (typeof workerId !== 'string' || workerId.trim() === '') throw invalidOption('fleet: workerId must be a non-empty string');
  const table = checkLeaseTable(options.table ?? defaultLeaseTable(topic));
  return { table, workerId, leaseMs, renewIntervalMs, safetyMarginMs };
}
