// The master's Prometheus exporter (docs/metrics.md): queue, fleet and per-run results
// with cost and CO2. Everything is read from the source at scrape time. Label sets stay
// bounded: per-run series exist only for the latest run of each scenario+node among the
// `runLimit` most recent runs, so a long history never becomes a long list of series.
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { JobState, NodeState, QueueClass } from '../core/types.ts';
import { JOB_STATES, NODE_STATES, QUEUE_CLASSES } from '../core/contracts/lists.ts';
import { co2GramsOf, energyCostOf, instanceCostOf, parseCost, type Cost, type CostInput } from '../core/cost.ts';
import { energyKindOf, hardwareClassOf } from '../core/strata.ts';
import { encodedCost, type Prices } from '../analyzers/cost.ts';
import { nodeCostFigures } from '../core/node-cost.ts';

export { JOB_STATES, NODE_STATES, QUEUE_CLASSES };

import type { RecentRun } from '../store/metrics-source.ts';

export type { RecentRun };

export interface MasterMetricsSource {
  jobCountsByState(): Partial<Record<JobState, number>>;
  queueLengthByClass(): Partial<Record<QueueClass, number>>;
  nodeCountsByState(): Partial<Record<NodeState, number>>;
  /** Most recent runs first. */
  recentRuns(limit: number): RecentRun[];
}

/** Cost and carbon settings (core/cost.ts: defaults, validator, formulas). */
export type CostConfig = Cost;

export interface MasterMetricsOptions {
  /** How many recent runs are looked at per scrape (default 500). */
  runLimit?: number;
  /** Add prom-client's default process metrics (default true). */
  processMetrics?: boolean;
}

export interface MasterMetrics {
  registry: Registry;
  metricsText(): Promise<string>;
}

/** The cost settings, checked: a negative or missing figure is an InputError naming `cost.<field>` (core/cost.ts). */
export function validateCostConfig(cost: CostInput, where = 'cost'): Cost {
  return parseCost(cost, where);
}

/** Keeps the first (most recent) run of each scenario+node. */
export function latestRunPerScenarioNode(runs: RecentRun[]): RecentRun[] {
  const seen = new Set<string>();
  const out: RecentRun[] = [];
  for (const r of runs) {
    const key = `${r.scenarioKey}\u0000${r.nodeId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(r);
  }
  return out;
}

// energy_kind (measured | estimated | none) and hardware_class: series of different strata are never aggregated together (core/strata.ts).
const RUN_LABELS = [
  'campaign',
  'scenario',
  'scenario_label',
  'codec',
  'encoder',
  'preset',
  'node',
  'source',
  'energy_kind',
  'hardware_class',
] as const;

function runLabels(r: RecentRun): Record<(typeof RUN_LABELS)[number], string> {
  return {
    campaign: r.campaignId,
    scenario: r.scenarioKey,
    scenario_label: r.scenarioLabel,
    codec: r.codec,
    encoder: r.encoder,
    preset: r.preset,
    node: r.nodeId,
    source: r.source ?? 'none',
    energy_kind: energyKindOf(r.source),
    hardware_class: hardwareClassOf({ hardwareClass: r.hardwareClass }),
  };
}

const finite = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

export function createMasterMetrics(
  source: MasterMetricsSource,
  given: CostInput,
  opts: MasterMetricsOptions = {},
): MasterMetrics {
  const cost = validateCostConfig(given);
  const runLimit = opts.runLimit ?? 500;
  const registry = new Registry();

  const collectorSuccess = new Gauge({
    name: 'ffwatt_collector_success',
    help: '1 if the named collector produced its values at the last scrape, 0 if it failed (its series are then absent).',
    labelNames: ['collector'],
    registers: [], // registered last: it reports on collectors that run earlier in the same scrape
  });

  /** Runs one collector; a throwing source leaves its series absent and marks the collector failed. */
  function guarded(name: string, metric: Gauge<string>, fill: () => void): void {
    metric.reset();
    try {
      fill();
      collectorSuccess.set({ collector: name }, 1);
    } catch {
      metric.reset();
      collectorSuccess.set({ collector: name }, 0);
    }
  }

  function countGauge<L extends string>(
    name: string,
    help: string,
    label: string,
    keys: readonly L[],
    read: () => Partial<Record<L, number>>,
    collector: string,
  ) {
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      collect() {
        guarded(collector, this, () => {
          const counts = read();
          for (const k of keys) this.set({ [label]: k }, counts[k] ?? 0);
        });
      },
    });
  }

  countGauge(
    'ffwatt_jobs',
    'Jobs in the store by state.',
    'state',
    JOB_STATES,
    () => source.jobCountsByState(),
    'jobs',
  );
  countGauge(
    'ffwatt_queue_length',
    'Jobs waiting to be claimed, by queue class (live > default > batch).',
    'class',
    QUEUE_CLASSES,
    () => source.queueLengthByClass(),
    'queue',
  );
  countGauge(
    'ffwatt_nodes',
    'Registered nodes by state (alive, suspect, dead).',
    'state',
    NODE_STATES,
    () => source.nodeCountsByState(),
    'nodes',
  );

  // One read of recentRuns per scrape, shared by the per-run gauges.
  let runsThisTurn: RecentRun[] | null = null;
  let runsError = false;
  function latestRuns(): RecentRun[] {
    if (runsThisTurn === null) {
      try {
        runsThisTurn = latestRunPerScenarioNode(source.recentRuns(runLimit));
        runsError = false;
      } catch {
        runsThisTurn = [];
        runsError = true;
      }
      collectorSuccess.set({ collector: 'runs' }, runsError ? 0 : 1);
      queueMicrotask(() => {
        runsThisTurn = null;
      });
    }
    return runsThisTurn;
  }

  function runGauge(
    name: string,
    help: string,
    extraLabels: string[],
    fill: (g: Gauge<string>, r: RecentRun, labels: Record<string, string>) => void,
  ) {
    new Gauge({
      name,
      help,
      labelNames: [...RUN_LABELS, ...extraLabels],
      registers: [registry],
      collect() {
        this.reset();
        for (const r of latestRuns()) fill(this, r, runLabels(r));
      },
    });
  }

  const scalarRunGauge = (name: string, help: string, pick: (r: RecentRun) => number | null | undefined) =>
    runGauge(name, help, [], (g, r, l) => {
      const v = pick(r);
      if (finite(v)) g.set(l, v);
    });

  runGauge(
    'ffwatt_run_energy_joules',
    'Energy of the latest run of a scenario on a node, in joules; basis=gross (measured) or net (gross minus idle power x time).',
    ['basis'],
    (g, r, l) => {
      if (finite(r.grossJ)) g.set({ ...l, basis: 'gross' }, r.grossJ);
      if (finite(r.netJ)) g.set({ ...l, basis: 'net' }, r.netJ);
    },
  );
  scalarRunGauge(
    'ffwatt_run_joules_per_encoded_minute',
    'Gross energy per minute of encoded media of the latest run of a scenario on a node, in joules.',
    (r) => r.jPerEncodedMinute,
  );
  scalarRunGauge(
    'ffwatt_run_vmaf_score',
    'VMAF (mean, 0..100) of the latest run of a scenario on a node.',
    (r) => r.vmaf,
  );
  scalarRunGauge('ffwatt_run_psnr_db', 'PSNR of the latest run of a scenario on a node, in decibels.', (r) => r.psnr);
  scalarRunGauge('ffwatt_run_ssim', 'SSIM (0..1) of the latest run of a scenario on a node.', (r) => r.ssim);
  scalarRunGauge(
    'ffwatt_run_quality_per_joule',
    'Quality score per joule of the latest run of a scenario on a node (see docs/metrics.md).',
    (r) => r.qualityPerJoule,
  );
  scalarRunGauge(
    'ffwatt_run_efficiency_ratio',
    'Efficiency score of the latest run of a scenario on a node: quality per J/encoded minute relative to the best measured run of the same content, resolution and energy source (0..1].',
    (r) => r.efficiency ?? null,
  );
  /** The run's prices: its node's cost.* labels, else the configured figures; null when the node's labels are unreadable (no cost series then). */
  const pricesOf = (r: RecentRun): Prices | null => {
    try {
      const own = nodeCostFigures(r.nodeLabels ?? [], `node ${r.nodeId}`);
      return {
        pricePerKwh: own.pricePerKwh ?? cost.pricePerKwh,
        carbonGramsPerKwh: own.carbonGramsPerKwh ?? cost.carbonGramsPerKwh,
        instanceCostPerHour: own.instanceCostPerHour ?? cost.instanceCostPerHour,
      };
    } catch {
      return null;
    }
  };
  runGauge(
    'ffwatt_run_cost_currency',
    "Cost of the latest run of a scenario on a node in the configured currency, at the node's own figures (cost.* labels) else the configured ones; kind=energy (gross kWh x price) or instance (wall hours x instance cost).",
    ['kind', 'currency'],
    (g, r, l) => {
      const p = pricesOf(r);
      if (!p) return;
      if (finite(r.grossJ)) g.set({ ...l, kind: 'energy', currency: cost.currency }, energyCostOf(r.grossJ, p));
      const instance = finite(r.wallS) ? instanceCostOf(r.wallS, p) : null;
      if (instance != null) g.set({ ...l, kind: 'instance', currency: cost.currency }, instance);
    },
  );
  scalarRunGauge(
    'ffwatt_run_co2_grams',
    "CO2 of the latest run of a scenario on a node, in grams (gross kWh x the node's carbon intensity, else the configured one).",
    (r) => {
      const p = pricesOf(r);
      return p && finite(r.grossJ) ? co2GramsOf(r.grossJ, p) : null;
    },
  );

  // Per class: the mean over the class's nodes of the latest run of each scenario, each run at
  // its own node's prices (analyzers/cost.ts encodedCost, as the reports). Never across classes
  // or energy kinds.
  const CLASS_LABELS = ['scenario', 'scenario_label', 'hardware_class', 'energy_kind'] as const;
  function classGauge(
    name: string,
    help: string,
    extra: string[],
    fill: (g: Gauge<string>, labels: Record<string, string>, runs: Array<{ r: RecentRun; p: Prices }>) => void,
  ) {
    new Gauge({
      name,
      help,
      labelNames: [...CLASS_LABELS, ...extra],
      registers: [registry],
      collect() {
        this.reset();
        const groups = new Map<string, { labels: Record<string, string>; runs: Array<{ r: RecentRun; p: Prices }> }>();
        for (const r of latestRuns()) {
          const p = pricesOf(r);
          if (!p) continue;
          const l = runLabels(r);
          const labels = {
            scenario: l.scenario,
            scenario_label: l.scenario_label,
            hardware_class: l.hardware_class,
            energy_kind: l.energy_kind,
          };
          const key = JSON.stringify(labels);
          (groups.get(key) ?? groups.set(key, { labels, runs: [] }).get(key)!).runs.push({ r, p });
        }
        for (const { labels, runs } of groups.values()) fill(this, labels, runs);
      },
    });
  }
  /** Mean of a cost figure over runs; absent unless every run has it. */
  const meanOf = (
    runs: Array<{ r: RecentRun; p: Prices }>,
    pick: (c: ReturnType<typeof encodedCost>) => number | null,
  ): number | null => {
    const values = runs.map(({ r, p }) =>
      pick(
        encodedCost(
          {
            jPerEncodedMinute: r.jPerEncodedMinute,
            machineSeconds: r.windowS ?? r.wallS,
            mediaSeconds: r.mediaSeconds,
          },
          p,
        ),
      ),
    );
    return values.length > 0 && values.every(finite)
      ? (values as number[]).reduce((a, b) => a + b, 0) / values.length
      : null;
  };
  classGauge(
    'ffwatt_class_cost_per_encoded_hour',
    "Cost per encoded hour of media of a scenario on a hardware class: mean over the class's nodes of their latest run, each at its node's prices; kind=energy (gross kWh x price) or instance (machine hours x instance cost).",
    ['kind', 'currency'],
    (g, labels, runs) => {
      const energy = meanOf(runs, (c) => c.energyCostPerEncodedHour);
      const instance = meanOf(runs, (c) => c.instanceCostPerEncodedHour);
      if (energy != null) g.set({ ...labels, kind: 'energy', currency: cost.currency }, energy);
      if (instance != null) g.set({ ...labels, kind: 'instance', currency: cost.currency }, instance);
    },
  );
  classGauge(
    'ffwatt_class_co2_grams_per_encoded_minute',
    "CO2 per encoded minute of media of a scenario on a hardware class, in grams: mean over the class's nodes of their latest run, each at its node's carbon intensity.",
    [],
    (g, labels, runs) => {
      const v = meanOf(runs, (c) => c.co2GramsPerEncodedMinute);
      if (v != null) g.set(labels, v);
    },
  );

  new Gauge({
    name: 'ffwatt_config_price_per_kwh',
    help: 'Configured electricity price per kWh, in the currency label.',
    labelNames: ['currency'],
    registers: [registry],
  }).set({ currency: cost.currency }, cost.pricePerKwh);
  new Gauge({
    name: 'ffwatt_config_carbon_grams_per_kwh',
    help: 'Configured carbon intensity of electricity, in grams of CO2 per kWh.',
    registers: [registry],
  }).set(cost.carbonGramsPerKwh);
  const instanceGauge = new Gauge({
    name: 'ffwatt_config_instance_cost_per_hour',
    help: 'Configured cost of one node per hour, in the currency label.',
    labelNames: ['currency'],
    registers: [registry],
  });
  if (cost.instanceCostPerHour != null) instanceGauge.set({ currency: cost.currency }, cost.instanceCostPerHour);

  new Gauge({
    name: 'ffwatt_master_up',
    help: 'Always 1 while the master serves metrics.',
    registers: [registry],
  }).set(1);

  if (opts.processMetrics !== false) addProcessMetrics(registry);
  registry.registerMetric(collectorSuccess);

  return { registry, metricsText: () => registry.metrics() };
}

/**
 * prom-client's default process metrics, less the three gauges named `*_total` that
 * `promtool check metrics` rejects; each is the sum of the same metric without `_total`.
 */
function addProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
}
