// JSON writer: the report model as it is, numbers rounded to 10 significant digits.
import type { ReportModel } from '../core/report-model.ts';
import { round } from './format.ts';

export function renderJson(model: ReportModel): string {
  return JSON.stringify(model, (_k, v) => (typeof v === 'number' ? round(v) : v), 2) + '\n';
}
