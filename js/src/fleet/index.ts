// Partition leases for a fleet of workers on one consumer group (docs/fleet.md).
export { PartitionLeases } from './partition-leases.js';
export type { PartitionLeasesOptions, TickResult } from './partition-leases.js';
export { DEFAULT_LEASE_MS, defaultWorkerId, resolveFleetOptions } from './options.js';
export type { FleetOptions, ResolvedFleetOptions } from './options.js';
export type { SqlLike } from './lease-store.js';
export { createLeaseTableSql, defaultLeaseTable } from './lease-table.js';
