// The ground floor's contract: the wire and storage shapes of ffwatt as zod schemas, with the
// TypeScript types inferred from them, and the closed vocabularies as `as const` lists.
export * from './lists.ts';
export * from './flags.ts';
export * from './run-record.ts';
export * from './job.ts';
export * from './node.ts';
export * from './api.ts';
export * from './master-client.ts';
