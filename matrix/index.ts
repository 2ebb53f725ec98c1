// Matrix files: load, validate (errors name file, line, key and fix), expand into a CampaignPlan.
export { loadMatrix, parseMatrix, parseSource, type MatrixOptions } from './load.ts';
export { isLegacyBatch, LEGACY_DEFAULT_PRESET, LEGACY_REPETITIONS } from './legacy.ts';
export { CRF_RANGE, DEFAULTS, MAX_CELLS, canonicalJson, formatBitrate, scenarioKey, scenarioLabel } from './expand.ts';
export { parseBitrate, parseResolution, MODES, SYNTHETIC_SOURCES } from './schema.ts';
