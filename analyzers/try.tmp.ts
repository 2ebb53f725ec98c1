import { writeStandardFixture } from './fixture-db.ts';
import { writeReports, renderSummaryMarkdown } from './report.ts';
import { rmSync } from 'node:fs';
rmSync('/tmp/anz/fx.sqlite', { force: true });
writeStandardFixture('/tmp/anz/fx.sqlite');
const r = await writeReports({ db: '/tmp/anz/fx.sqlite', outDir: '/tmp/anz/rep', now: new Date('2026-01-16T00:00:00Z') });
console.log(renderSummaryMarkdown(r.model));
