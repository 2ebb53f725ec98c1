// `ffwatt recommend` / `npx zx advisor/recommend.mjs`: the command line of the recommender.

import { Command, CommanderError } from 'commander';
import { accessSync, constants, existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { InputError, exitCodeOf } from '../core/errors.ts';
import { detectEncoders } from '../media/encoders.ts';
import { cpuClass } from './features.ts';
import { hardwareName } from './dataset.ts';
import { contentInputFromArg, measureContent } from './content.ts';
import { OnnxAdvisor } from './infer.ts';
import { hardwareByName, recommend, type ContentProfile, type HardwareProfile, type Recommendation } from './recommend.ts';
import type { AdvisorMeta } from './train.ts';

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Encoders usable on this node (default: media/encoders.ts detectEncoders). */
  detectEncoders?: () => Promise<string[]>;
}

const defaultIo: CliIo = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

function positive(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InputError(`${flag} '${v}' is not a positive number`, { field: flag, fix: `e.g. ${flag} 30` });
  return n;
}

function parseResolution(v: string): { width: number; height: number } {
  const m = /^(\d+)x(\d+)$/.exec(v);
  if (!m || Number(m[1]) === 0 || Number(m[2]) === 0) {
    throw new InputError(`--resolution '${v}' is not WIDTHxHEIGHT`, { field: '--resolution', fix: 'e.g. --resolution 1280x720' });
  }
  return { width: Number(m[1]), height: Number(m[2]) };
}

/** This machine as the model sees hardware; the meter source is the one training saw for this CPU class, else what is readable here. */
export function thisHardware(meta: AdvisorMeta, env: NodeJS.ProcessEnv = process.env): HardwareProfile {
  const list = cpus();
  const cpuModel = list[0]?.model?.trim() || 'unknown';
  const cores = list.length;
  const gpu = existsSync('/dev/nvidia0');
  const known = meta.hardware.find((h) => cpuClass(h.cpuModel) === cpuClass(cpuModel) && h.cores === cores && h.gpu === gpu);
  let meterSource = known?.meterSource;
  if (!meterSource) {
    const sysfs = env.FFWATT_SYSFS || '/sys';
    try {
      accessSync(join(sysfs, 'class/powercap/intel-rapl:0/energy_uj'), constants.R_OK);
      meterSource = 'rapl';
    } catch {
      meterSource = 'estimate';
    }
  }
  return { name: hardwareName({ cpuModel, cores, gpu, meterSource }), cpuModel, cores, gpu, meterSource };
}

const n1 = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

export function formatRecommendation(r: Recommendation): string {
  const q = r.model.qualityMetric.toUpperCase();
  const lines: string[] = [];
  lines.push(
    `${q} >= ${r.query.minQuality.value} at ${r.query.resolution} ${r.query.fps} fps on ${r.query.hardware}` +
      ` (model: ${r.model.campaigns.join(', ')}, trained ${r.model.trainedAt.slice(0, 10)}; energy = ${r.model.energyBasis} J per encoded minute)`,
  );
  if (r.candidates.length === 0) {
    lines.push(`no configuration is predicted to reach ${q} ${r.query.minQuality.value} (${r.evaluated} evaluated)`);
  } else {
    const rows = r.candidates.map((c, i) => [
      String(i + 1),
      c.encoder,
      c.preset,
      c.rate.kind === 'crf' ? `crf ${c.rate.value}` : `${Math.round(c.rate.value / 1000)}k`,
      `${n1(c.predicted.energy)} (${n1(c.intervals.energy.lo)}–${n1(c.intervals.energy.hi)})`,
      `${c.predicted.quality.toFixed(1)} (${c.intervals.quality.lo.toFixed(1)}–${c.intervals.quality.hi.toFixed(1)})${c.qualityMarginOk ? '' : ' ~'}`,
      `${n1(c.predicted.speed)}x`,
      c.measured ? 'measured' : 'extrapolated',
    ]);
    const head = ['#', 'encoder', 'preset', 'rate', 'J/min (10–90%)', `${q} (10–90%)`, 'speed', 'data'];
    const widths = head.map((h, j) => Math.max(h.length, ...rows.map((row) => row[j].length)));
    for (const row of [head, ...rows]) lines.push(row.map((cell, j) => cell.padEnd(widths[j])).join('  ').trimEnd());
    lines.push(`${r.evaluated} configurations evaluated, ${r.belowTarget} predicted below the target; ~ = the 10% quality bound is below the target`);
  }
  if (r.skippedEncoders.length) lines.push(`skipped encoders: ${r.skippedEncoders.map((s) => `${s.encoder} (${s.reason})`).join(', ')}`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join('\n') + '\n';
}

export async function recommendCommand(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const program = new Command('recommend')
    .description('rank encoder configurations by predicted energy per encoded minute under a quality target')
    .option('--min-vmaf <n>', 'lowest acceptable VMAF (mean)')
    .option('--min-psnr <n>', 'lowest acceptable PSNR (dB)')
    .requiredOption('--resolution <WxH>', 'output resolution, e.g. 1280x720')
    .requiredOption('--fps <n>', 'output frame rate')
    .option('--hardware <name>', "'this' or a hardware name from the model card", 'this')
    .option('--model <path>', 'ONNX model (its .features.json beside it)', 'models/advisor.onnx')
    .option('--input <source>', 'content to plan for: testsrc2, smptehdbars or a video file (SI/TI are measured)')
    .option('--limit <n>', 'how many candidates to show', '10')
    .option('--json', 'print one JSON document')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  let advisor: OnnxAdvisor | null = null;
  try {
    program.parse(argv, { from: 'user' });
    const o = program.opts<{ minVmaf?: string; minPsnr?: string; resolution: string; fps: string; hardware: string; model: string; input?: string; limit: string; json?: boolean }>();
    if ((o.minVmaf == null) === (o.minPsnr == null)) {
      throw new InputError('give exactly one quality target: --min-vmaf N or --min-psnr N', { field: '--min-vmaf', fix: 'e.g. --min-vmaf 93' });
    }
    const minQuality = o.minVmaf != null ? { metric: 'vmaf' as const, value: positive('--min-vmaf', o.minVmaf) } : { metric: 'psnr' as const, value: positive('--min-psnr', o.minPsnr!) };
    const { width, height } = parseResolution(o.resolution);
    const fps = positive('--fps', o.fps);
    const limit = Math.round(positive('--limit', o.limit));
    advisor = await OnnxAdvisor.load(o.model);
    const meta = advisor.meta;
    let hardware: HardwareProfile;
    let availableEncoders: string[];
    if (o.hardware === 'this') {
      hardware = thisHardware(meta);
      availableEncoders = io.detectEncoders ? await io.detectEncoders() : (await detectEncoders()).usable;
    } else {
      const h = hardwareByName(meta, o.hardware);
      hardware = h;
      availableEncoders = h.encoders;
    }
    let content: ContentProfile | undefined;
    if (o.input) {
      const c = await measureContent(contentInputFromArg(o.input, width, height, fps), { method: meta.features.contentMethod });
      content = { label: o.input, si: c.si, ti: c.ti, userGiven: true };
    }
    const result = await recommend(advisor, meta, { minQuality, width, height, fps, hardware, availableEncoders, content, limit });
    io.out(o.json ? JSON.stringify(result, null, 2) + '\n' : formatRecommendation(result));
    return result.candidates.length > 0 ? 0 : 1;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
      return 2; // commander already printed what was wrong
    }
    io.err(`ffwatt recommend: ${err instanceof Error ? err.message : String(err)}\n`);
    return exitCodeOf(err);
  } finally {
    await advisor?.close();
  }
}
