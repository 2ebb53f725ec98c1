// `ffwatt recommend` / `npx zx advisor/recommend.mjs`: the command line of the recommender.

import { Command, CommanderError } from 'commander';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { InputError, exitCodeOf } from '../core/errors.ts';
import { detectEncoders } from '../media/encoders.ts';
import { cpuClass } from './features.ts';
import { hardwareName } from './dataset.ts';
import { contentInputFromArg, measureContent } from './content.ts';
import { OnnxAdvisor, loadMeta, metaPathFor } from './infer.ts';
import { ENERGY_BASIS_LABEL } from './targets.ts';
import { nodeClasses, openReadOnly } from '../store/training-runs.ts';
import {
  hardwareByName,
  recommend,
  type ContentProfile,
  type HardwareProfile,
  type Recommendation,
} from './recommend.ts';
import type { AdvisorMeta } from './train.ts';

/** A node as `--node` looks it up: its id, hostname and hardware class. */
export interface NodeClass {
  id: string;
  hostname: string;
  hardwareClass: string | null;
}

/** The master flags `--node` passes on when it asks a master (`ffwatt` wires them to harness/ops/connect.ts). */
export interface MasterLookupFlags {
  master?: string;
  tokenFile?: string;
  caCert?: string;
}

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Encoders usable on this node (default: media/encoders.ts detectEncoders). */
  detectEncoders?: () => Promise<string[]>;
  /** The master's nodes, with the operator's credentials (given by the `ffwatt` command; absent, --master is refused). */
  masterNodes?: (flags: MasterLookupFlags) => Promise<NodeClass[]>;
  env?: NodeJS.ProcessEnv;
}

/** Folder searched for models when --model is not given: DIR/advisor.onnx and DIR/<class>/advisor.onnx. */
export const DEFAULT_MODELS_DIR = 'models';
export const DEFAULT_MODEL = `${DEFAULT_MODELS_DIR}/advisor.onnx`;

/** The models in a folder with the hardware classes each was trained on. */
export function modelsIn(dir: string): Array<{ path: string; classes: string[] }> {
  const paths = [join(dir, 'advisor.onnx')];
  if (existsSync(dir)) {
    for (const d of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (d.isDirectory()) paths.push(join(dir, d.name, 'advisor.onnx'));
    }
  }
  return paths
    .filter((p) => existsSync(p) && existsSync(metaPathFor(p)))
    .map((path) => ({ path, classes: loadMeta(metaPathFor(path)).hardwareClasses }));
}

/** The model trained on `hardwareClass`: the one given with --model, else the first in the models folder; exit 2 naming the classes there are when none has it. */
export function modelForClass(
  hardwareClass: string,
  flag: string,
  model: string | undefined,
  dir = DEFAULT_MODELS_DIR,
): string {
  const models = model
    ? [{ path: model, classes: existsSync(metaPathFor(model)) ? loadMeta(metaPathFor(model)).hardwareClasses : [] }]
    : modelsIn(dir);
  const hit = models.find((m) => m.classes.includes(hardwareClass));
  if (hit) return hit.path;
  const have =
    models.map((m) => `${m.classes.join(', ')} (${m.path})`).join('; ') || `none (no model in ${model ?? dir})`;
  const fix = `ask for a class the advisor has data for, or measure this class and train it: make train-data, then ffwatt train … --class ${hardwareClass} --out ${dir}/${hardwareClass}`;
  throw new InputError(`${flag}: the advisor has no data for hardware class ${hardwareClass}; it has: ${have}`, {
    field: flag,
    fix,
  });
}

/** Node → hardware class from a results database (local mode writes its node there; `ffwatt campaign fetch` imports fleet campaigns' nodes). */
export function nodesFromResults(dbPath: string): NodeClass[] {
  if (!existsSync(dbPath)) {
    throw new InputError(`--node: no results database at ${dbPath} to look the node up in`, {
      field: '--db',
      fix: 'pass --db with the results of a run on that node, or --master URL (with --token-file) to ask the master',
    });
  }
  const db = openReadOnly(dbPath);
  try {
    return nodeClasses(db);
  } finally {
    db.close();
  }
}

/** The hardware class of a node by id or hostname; exit 2 naming the nodes there are when unknown. */
export function classOfNode(name: string, nodes: NodeClass[], where: string): string {
  const n = nodes.find((x) => x.id === name) ?? nodes.find((x) => x.hostname === name);
  if (!n) {
    const fix = `use one of: ${nodes.map((x) => x.id).join(', ') || 'none'}`;
    throw new InputError(`--node ${name}: no such node in ${where}; ${fix}`, { field: '--node', fix });
  }
  if (!n.hardwareClass) {
    throw new InputError(
      `--node ${name}: ${where} records no hardware class for it (registered before classes existed)`,
      { field: '--node', fix: 'restart its agent so it registers its class, or use --class' },
    );
  }
  return n.hardwareClass;
}

const defaultIo: CliIo = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

function positive(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0)
    throw new InputError(`${flag} '${v}' is not a positive number`, { field: flag, fix: `e.g. ${flag} 30` });
  return n;
}

function parseResolution(v: string): { width: number; height: number } {
  const m = /^(\d+)x(\d+)$/.exec(v);
  if (!m || Number(m[1]) === 0 || Number(m[2]) === 0) {
    throw new InputError(`--resolution '${v}' is not WIDTHxHEIGHT`, {
      field: '--resolution',
      fix: 'e.g. --resolution 1280x720',
    });
  }
  return { width: Number(m[1]), height: Number(m[2]) };
}

/** This machine as the model sees hardware; the meter source is the one training saw for this CPU class, else what is readable here. */
export function thisHardware(meta: AdvisorMeta, env: NodeJS.ProcessEnv = process.env): HardwareProfile {
  const list = cpus();
  const cpuModel = list[0]?.model?.trim() || 'unknown';
  const cores = list.length;
  const gpu = existsSync('/dev/nvidia0');
  const known = meta.hardware.find(
    (h) => cpuClass(h.cpuModel) === cpuClass(cpuModel) && h.cores === cores && h.gpu === gpu,
  );
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
    `${q} >= ${r.query.minQuality.value} at ${r.query.resolution} ${r.query.fps} fps on ${r.query.hardware}${r.query.hardwareClass ? ` (class ${r.query.hardwareClass})` : ''}` +
      ` (model trained ${r.model.trainedAt.slice(0, 10)} on ${r.model.campaigns.length} campaign(s); energy = ${ENERGY_BASIS_LABEL[r.model.energyBasis]})`,
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
    for (const row of [head, ...rows])
      lines.push(
        row
          .map((cell, j) => cell.padEnd(widths[j]))
          .join('  ')
          .trimEnd(),
      );
    lines.push(
      `${r.evaluated} configurations evaluated, ${r.belowTarget} predicted below the target; ~ = the 10% quality bound is below the target`,
    );
  }
  if (r.skippedEncoders.length)
    lines.push(`skipped encoders: ${r.skippedEncoders.map((s) => `${s.encoder} (${s.reason})`).join(', ')}`);
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
    .option(
      '--class <id>',
      'hardware class to plan for (ffwatt nodes lists them); its model is looked up in models/ and models/*/',
    )
    .option(
      '--node <name>',
      'plan for this node: its hardware class from --master, else from the results database --db',
    )
    .option('--db <path>', 'results database --node looks nodes up in', 'results/ffwatt.sqlite')
    .option('--master <url>', 'with --node: ask this master (env FFWATT_MASTER)')
    .option('--token-file <file>', "with --node --master: the master's admin token (env FFWATT_TOKEN_FILE)")
    .option('--ca-cert <file>', 'with --node --master: CA certificate of the master (env FFWATT_CA_CERT)')
    .option(
      '--model <path>',
      `ONNX model (its .features.json beside it); default ${DEFAULT_MODEL}, or with --class/--node the model of that class`,
    )
    .option('--input <source>', 'content to plan for: testsrc2, smptehdbars or a video file (SI/TI are measured)')
    .option('--limit <n>', 'how many candidates to show', '10')
    .option('--json', 'print one JSON document')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  let advisor: OnnxAdvisor | null = null;
  try {
    program.parse(argv, { from: 'user' });
    const o = program.opts<{
      minVmaf?: string;
      minPsnr?: string;
      resolution: string;
      fps: string;
      hardware: string;
      class?: string;
      node?: string;
      db: string;
      master?: string;
      tokenFile?: string;
      caCert?: string;
      model?: string;
      input?: string;
      limit: string;
      json?: boolean;
    }>();
    const env = io.env ?? process.env;
    if (o.class && o.node)
      throw new InputError('give --class or --node, not both', {
        field: '--node',
        fix: '--node looks its class up; --class names it',
      });
    if ((o.class || o.node) && o.hardware !== 'this') {
      throw new InputError(
        `--hardware ${o.hardware} cannot go with ${o.class ? '--class' : '--node'}: the class decides the hardware`,
        { field: '--hardware', fix: 'drop --hardware' },
      );
    }
    let hardwareClass: string | null = null;
    let classFlag = '--class';
    if (o.class) hardwareClass = o.class;
    else if (o.node) {
      classFlag = `--node ${o.node}`;
      const master = o.master ?? env.FFWATT_MASTER;
      if (master) {
        if (!io.masterNodes)
          throw new InputError('--node with --master needs the ffwatt command (node bin/ffwatt.mjs recommend …)', {
            field: '--master',
          });
        hardwareClass = classOfNode(
          o.node,
          await io.masterNodes({ master, tokenFile: o.tokenFile, caCert: o.caCert }),
          `the master ${master}`,
        );
      } else {
        hardwareClass = classOfNode(o.node, nodesFromResults(o.db), o.db);
      }
    }
    if ((o.minVmaf == null) === (o.minPsnr == null)) {
      throw new InputError('give exactly one quality target: --min-vmaf N or --min-psnr N', {
        field: '--min-vmaf',
        fix: 'e.g. --min-vmaf 93',
      });
    }
    const minQuality =
      o.minVmaf != null
        ? { metric: 'vmaf' as const, value: positive('--min-vmaf', o.minVmaf) }
        : { metric: 'psnr' as const, value: positive('--min-psnr', o.minPsnr!) };
    const { width, height } = parseResolution(o.resolution);
    const fps = positive('--fps', o.fps);
    const limit = Math.round(positive('--limit', o.limit));
    const modelPath = hardwareClass ? modelForClass(hardwareClass, classFlag, o.model) : (o.model ?? DEFAULT_MODEL);
    advisor = await OnnxAdvisor.load(modelPath);
    const meta = advisor.meta;
    let hardware: HardwareProfile;
    let availableEncoders: string[];
    if (hardwareClass) {
      // Encoders and hardware facts as measured on that class (the node itself may be elsewhere).
      const h = meta.hardware.find((x) => x.hardwareClass === hardwareClass)!;
      hardware = { ...h, hardwareClass };
      availableEncoders = h.encoders;
    } else if (o.hardware === 'this') {
      hardware = thisHardware(meta);
      availableEncoders = io.detectEncoders ? await io.detectEncoders() : (await detectEncoders()).usable;
    } else {
      const h = hardwareByName(meta, o.hardware);
      hardware = h;
      availableEncoders = h.encoders;
    }
    let content: ContentProfile | undefined;
    if (o.input) {
      const c = await measureContent(contentInputFromArg(o.input, width, height, fps), {
        method: meta.features.contentMethod,
      });
      content = { label: o.input, si: c.si, ti: c.ti, userGiven: true };
    }
    const result = await recommend(advisor, meta, {
      minQuality,
      width,
      height,
      fps,
      hardware,
      availableEncoders,
      content,
      limit,
    });
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
