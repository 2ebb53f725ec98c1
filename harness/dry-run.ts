import type { CampaignPlan, NodeInfo, Placement } from '../core/types.ts';
import { canRun, jobClass, placementTargets, type PlacementTarget } from '../master/queue.ts';

/** One placement target of a planned campaign: its cells and jobs, and how long they take. */
export interface PlannedTarget {
  target: string;
  nodes: string[];
  cells: number;
  jobsMin: number;
  jobsMax: number;
  /** Seconds from first to last job on this target (its nodes share its jobs). */
  secondsMin: number;
  secondsMax: number;
}

export interface CampaignPlanView {
  matrix: string;
  name: string;
  seed: number;
  placement: Placement;
  placementDefaulted: boolean;
  repetitions: CampaignPlan['repetitions'];
  cells: Array<{ label: string; origin?: string; mode: string; queue: string; priority: number }>;
  targets: PlannedTarget[];
  skipped: Array<{ scenario: string; target: string }>;
  estimate: { secondsMin: number; secondsMax: number; assumptions: string };
}

export const ESTIMATE_ASSUMPTIONS =
  'encodes at 1x real time (file cells usually run faster), plus warm-up, cooldown and one idle baseline per node; quality scoring not included';

/** Seconds one job holds a node: cooldown, warm-up and the measured window at 1x. */
function jobSeconds(plan: CampaignPlan, s: CampaignPlan['scenarios'][number]): number {
  return plan.cooldownS + s.warmupS + s.durationS;
}

/**
 * What `ffwatt run --dry-run` prints: the expanded cells and, per placement target, the jobs
 * (repetitions.min per cell at first, up to repetitions.max) and an estimated duration. Nodes:
 * the master's (fleet) or this machine (local).
 */
export function planCampaign(
  plan: CampaignPlan,
  matrix: string,
  opts: {
    placement?: Placement;
    fleet: boolean;
    nodes: Array<Pick<NodeInfo, 'id' | 'hostname' | 'encoders' | 'state'> & { hardwareClass?: string }>;
    nodeConstraint?: string[];
  },
): CampaignPlanView {
  const placementDefaulted = opts.placement === undefined && plan.placement === undefined;
  const placement = opts.placement ?? plan.placement ?? (opts.fleet ? 'each-class' : 'any');
  let targets: PlacementTarget[] = placementTargets(placement, opts.nodes, opts.nodeConstraint);
  if (placement === 'any') targets = [{ id: 'any', nodes: opts.nodes.filter((n) => n.state !== 'dead') }];
  const skipped: CampaignPlanView['skipped'] = [];
  const planned = targets.map((t) => {
    const runnable =
      t.nodes.length === 0 ? plan.scenarios : plan.scenarios.filter((s) => t.nodes.some((n) => canRun(n, s)));
    for (const s of plan.scenarios) if (!runnable.includes(s)) skipped.push({ scenario: s.label, target: t.id });
    const seconds = runnable.reduce((sum, s) => sum + jobSeconds(plan, s), 0);
    const share = Math.max(1, t.nodes.length);
    return {
      target: t.id,
      nodes: t.nodes.map((n) => n.id),
      cells: runnable.length,
      jobsMin: runnable.length * plan.repetitions.min,
      jobsMax: runnable.length * plan.repetitions.max,
      secondsMin: plan.idleBaselineS + (seconds * plan.repetitions.min) / share,
      secondsMax: plan.idleBaselineS + (seconds * plan.repetitions.max) / share,
    };
  });
  return {
    matrix,
    name: plan.name,
    seed: plan.seed,
    placement,
    placementDefaulted,
    repetitions: plan.repetitions,
    cells: plan.scenarios
      .map((s) => ({ label: s.label, origin: s.origin, mode: s.mode, ...jobClass(s, plan, {}) }))
      .map(({ queueClass, ...c }) => ({ ...c, queue: queueClass })),
    targets: planned,
    skipped,
    estimate: {
      // Targets run side by side; the slowest one decides.
      secondsMin: Math.max(0, ...planned.map((t) => t.secondsMin)),
      secondsMax: Math.max(0, ...planned.map((t) => t.secondsMax)),
      assumptions: ESTIMATE_ASSUMPTIONS,
    },
  };
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}m ${String(s % 60).padStart(2, '0')}s`;
}

export function renderPlan(v: CampaignPlanView): string {
  const lines = [
    `matrix ${v.name} (${v.matrix}): valid, ${v.cells.length} cells, seed ${v.seed}`,
    `placement: ${v.placement}${v.placementDefaulted ? ' (default)' : ''}; repetitions ${v.repetitions.min}–${v.repetitions.max} per cell${v.placement === 'any' ? '' : ' and target'} until the 95% CI half-width is under ${v.repetitions.ciHalfwidthPct}%`,
    '',
    'cells:',
    ...v.cells.map(
      (c, i) =>
        `  ${String(i + 1).padStart(3)}. ${c.label}  [queue ${c.queue}${c.priority ? `, priority ${c.priority}` : ''}]${c.origin ? `  (${c.origin})` : ''}`,
    ),
    '',
    'jobs per placement target:',
    ...v.targets.map(
      (t) =>
        `  ${t.target}: ${t.cells} cells, ${t.jobsMin}${t.jobsMax !== t.jobsMin ? `–${t.jobsMax}` : ''} jobs on ${t.nodes.length ? t.nodes.join(', ') : 'this machine'}, about ${formatDuration(t.secondsMin)}${t.secondsMax !== t.secondsMin ? ` – ${formatDuration(t.secondsMax)}` : ''}`,
    ),
    ...(v.skipped.length
      ? [
          '',
          'left out (no node of the target has the encoder):',
          ...v.skipped.map((s) => `  ${s.target}: ${s.scenario}`),
        ]
      : []),
    '',
    `estimated duration: ${formatDuration(v.estimate.secondsMin)}${v.estimate.secondsMax !== v.estimate.secondsMin ? ` – ${formatDuration(v.estimate.secondsMax)}` : ''} (${v.estimate.assumptions})`,
  ];
  return lines.join('\n') + '\n';
}
