// Layer rules of ffwatt (docs/architecture.md): each part imports only the parts below it.
// `make lint` runs: npx depcruise --config .dependency-cruiser.cjs <the code folders>
//
// Product code is every file in a part except tests (*.test.ts) and test support files
// (test-*.ts, fixture-*.ts). Tests, bench/, test/ and scripts/ are exempt from the layer and
// process rules (they start ffwatt and open results databases to check them); they still count
// for cycles and unresolvable imports.

/** What each part may import besides itself, bottom to top. */
const ALLOWED = {
  core: [],
  runner: ['core'],
  energy: ['core', 'runner'],
  media: ['core', 'runner'],
  quality: ['core', 'runner', 'media'],
  matrix: ['core', 'media'],
  store: ['core'],
  analyzers: ['core', 'store'],
  advisor: ['core', 'runner', 'media', 'store', 'analyzers'],
  master: ['core', 'store', 'analyzers', 'matrix'],
  agent: ['core', 'runner', 'energy', 'media', 'quality'],
  harness: ['core', 'runner', 'energy', 'media', 'quality', 'matrix', 'store', 'analyzers', 'master', 'agent'],
  cli: [
    'core',
    'runner',
    'energy',
    'media',
    'quality',
    'matrix',
    'store',
    'analyzers',
    'advisor',
    'master',
    'agent',
    'harness',
  ],
  bin: ['cli'],
};
const PARTS = Object.keys(ALLOWED);
const NOT_PRODUCT = '(\\.test\\.ts$|(^|/)(test|fixture)-[^/]*\\.ts$)';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycle-between-parts',
      severity: 'error',
      comment: 'Parts import each other in a circle. Parts import only downwards, so a file is in the wrong part.',
      from: { path: '^([^/]+)/' },
      to: { circular: true, via: { pathNot: '^$1/' } },
    },
    {
      name: 'no-cycle-in-part',
      severity: 'warn',
      comment: 'Files of one part import each other in a circle (allowed, but usually a type that wants its own file).',
      from: { path: '^([^/]+)/' },
      to: { circular: true, viaOnly: { path: '^$1/' } },
    },
    ...PARTS.map((part) => ({
      name: `layer-${part}`,
      severity: 'error',
      comment: `${part}/ imports only ${ALLOWED[part].length ? ALLOWED[part].map((p) => p + '/').join(', ') : 'itself (the ground floor)'} (docs/architecture.md).`,
      from: { path: `^${part}/`, pathNot: NOT_PRODUCT },
      to: {
        path: `^(${PARTS.join('|')})/`,
        pathNot: `^(${[part, ...ALLOWED[part]].join('|')})/`,
      },
    })),
    {
      name: 'sql-only-in-store',
      severity: 'error',
      comment: 'Only store/ opens SQLite (better-sqlite3). Add a store function instead of a query elsewhere.',
      from: { path: `^(${PARTS.join('|')})/`, pathNot: [`^store/`, NOT_PRODUCT] },
      to: { path: '(^|/)node_modules/better-sqlite3/' },
    },
    {
      name: 'processes-only-in-runner',
      severity: 'error',
      comment:
        'Only runner/ starts processes (child_process, execa): it keeps the Ctrl-C registry and the stderr tails.',
      from: { path: `^(${PARTS.join('|')})/`, pathNot: ['^runner/', NOT_PRODUCT] },
      to: { path: ['^(node:)?child_process$', '(^|/)node_modules/execa/'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to no file.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(results|dist|test/\\.work)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: { text: { highlightFocused: true } },
  },
};
