// Public API of the analyzers: reports from a results database.
export {
  writeReports,
  writeModelFiles,
  renderSummaryMarkdown,
  REPORT_FORMATS,
  type ReportFormat,
  type WriteReportsOptions,
} from './report.ts';
export { reportCommand, DEFAULT_DB } from './cli.ts';
export { summarize, buildModel, openResults, type SummarizeOptions } from './summarize.ts';
export { efficiencyScores, type EfficiencyScore, type ReferenceChoice } from './compare.ts';
export { renderMarkdown } from './write-md.ts';
export { renderCsv, CSV_COLUMNS } from './write-csv.ts';
export { renderJson } from './write-json.ts';
export { renderHtml } from './write-html.ts';
export { COST_DEFAULTS } from './cost.ts';
export type * from '../core/report-model.ts';
export * as stats from '../core/stats.ts';
export {
  compareCampaigns,
  type CompareModel,
  type CompareMatch,
  type CompareOptions,
  type CampaignRef,
  type ProvenanceDifference,
} from './campaign-compare.ts';
export { renderCompareMarkdown, renderCompareJson, renderCompareHtml, COMPARE_FORMATS } from './write-compare.ts';
export {
  energyKindOf,
  hardwareClassOf,
  exclusionReasons,
  EXCLUDING_FLAGS,
  NET_NONPOSITIVE,
  UNCLASSIFIED,
  type EnergyKind,
} from '../core/strata.ts';
