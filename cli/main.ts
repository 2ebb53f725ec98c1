import { Command, CommanderError, Option } from 'commander';
import { createLogger } from '../core/log.ts';
import { exitCodeOf, EXIT_BAD_INPUT, InputError } from '../core/errors.ts';

/**
 * The one `ffwatt` command line (README.md, docs/architecture.md). Each subcommand lives with its part and is
 * imported lazily so `ffwatt energy probe` does not load FFmpeg or SQLite code.
 * Exit codes: 0 ok, 1 run failed, 2 bad input.
 */
export async function main(argv: string[]): Promise<number> {
  const log = createLogger({ format: 'text' });
  const controller = new AbortController();
  let interrupted = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted += 1;
    if (interrupted > 1) process.exit(130);
    log.warn(`${sig}: stopping — FFmpeg and nginx are being stopped, nothing half-written is kept (again to force)`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let code = 0;
  const program = new Command('ffwatt')
    .description('Measure the energy cost of video encoding (energy per encoded minute).')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('run')
    .description('run a matrix here (local mode) or submit it to a master (fleet mode)')
    .argument('[matrix]', 'matrix file (YAML or JSON)', 'matrices/quick.yml')
    .option('--out <dir>', 'results folder (SQLite + reports)', 'results')
    .option('--json', 'print one machine-readable JSON document')
    .option('--master <url>', 'submit to this master instead of running here')
    .option('--inventory <dir>', 'find the master and workers in this Ansible inventory')
    .option('--limit <group>', 'with --inventory: only workers in this group/host pattern')
    .option('--token-file <file>', 'bearer token for the master')
    .option('--ca-cert <file>', 'CA certificate to trust for the master')
    .option('--detach', 'submit the campaign, print its id and return without waiting')
    .option(
      '--placement <p>',
      'any | each-class | each-node (default: the matrix key, else each-class in fleet mode, any locally)',
    )
    .option(
      '--dry-run',
      'validate the matrix, print the cells, the jobs per placement target and an estimated duration, run nothing',
    )
    .option('--vmaf-model <file>', 'VMAF model (.pkl for libvmaf 1.x, .json for 2.x); env FFWATT_VMAF_MODEL')
    .option('--quality-ffmpeg <path>', 'ffmpeg used for quality scoring (a libvmaf build); env FFWATT_QUALITY_FFMPEG')
    .option('--ffmpeg <path>', 'ffmpeg used for encoding', undefined)
    .option('--sysfs <path>', 'sysfs root for energy meters (env FFWATT_SYSFS)')
    .option('--nvml-library <path>', 'NVML library for GPU facts and the GPU meter (default libnvidia-ml.so.1)')
    .option(
      '--watts-per-logical-cpu <w>',
      'estimate meter: watts per busy logical CPU (default: 10 W per busy core ÷ threads per core)',
    )
    .addOption(new Option('--watts-per-core <w>').hideHelp()) // renamed: refused with a message naming the new flag
    .option('--sampler-hz <hz>', 'energy sampling rate (default 10)')
    .option('--seed <n>', 'seed for the order of repetitions (default: random, recorded)')
    .option('--no-report', 'do not write the reports at the end')
    .option('--metrics', 'serve the agent (127.0.0.1:9464) and master (127.0.0.1:9465) exporters while running')
    .option('--metrics-linger <s>', 'with --metrics: keep the exporters up this many seconds after the run')
    .action(async (matrix: string, opts) => {
      const { runCommand } = await import('../harness/run-command.ts');
      code = await runCommand({ ...opts, matrix }, log, controller.signal);
    });

  // Fleet operations against a master, with the operator's (admin) credentials.
  const masterOptions = (c: Command) =>
    c
      .option('--master <url>', 'master URL (env FFWATT_MASTER)')
      .option('--token-file <file>', "the master's admin token (env FFWATT_TOKEN_FILE)")
      .option('--ca-cert <file>', 'CA certificate of the master (env FFWATT_CA_CERT)')
      .option('--json', 'print JSON');

  masterOptions(
    program
      .command('nodes')
      .description("list the master's nodes: state, hardware class, CPU, GPU, encoders, last heartbeat"),
  ).action(async (opts) => {
    const { nodesCommand } = await import('../harness/ops/nodes.ts');
    code = await nodesCommand(opts);
  });

  masterOptions(
    program
      .command('jobs')
      .description("list the master's jobs (claim order)")
      .option('--campaign <id>', 'only this campaign')
      .option('--state <state>', 'only jobs in this state: queued, leased, running, succeeded, failed, canceled')
      .option('--limit <n>', 'at most this many (default 1000)'),
  ).action(async (opts) => {
    const { jobsCommand } = await import('../harness/ops/jobs.ts');
    code = await jobsCommand(opts);
  });

  masterOptions(
    program
      .command('campaign')
      .description('campaigns on the master: list | show ID | cancel ID | retry-failed ID | fetch ID [--out DIR]')
      .argument('<action>', 'list, show, cancel, retry-failed or fetch')
      .argument('[id]', 'campaign id')
      .option(
        '--out <dir>',
        'fetch: results folder to import into (SQLite; then ffwatt report works offline)',
        'results',
      ),
  ).action(async (action: string, id: string | undefined, opts) => {
    const { campaignCommand } = await import('../harness/ops/campaign.ts');
    code = await campaignCommand(action, id, opts);
  });

  const energy = program.command('energy').description('energy meters');
  energy
    .command('probe')
    .description('list the meters found here, their zones, readability, wrap range and a 2-second reading')
    .option('--sysfs <path>', 'sysfs root (env FFWATT_SYSFS)')
    .option('--nvml-library <path>', 'path of libnvidia-ml.so.1')
    .option('--json', 'print JSON')
    .option('--seconds <s>', 'length of the reading (default 2)')
    .action(async (opts) => {
      const { energyProbeCommand } = await import('../energy/probe-cli.ts');
      const seconds = opts.seconds === undefined ? undefined : Number(opts.seconds);
      if (seconds !== undefined && !(Number.isFinite(seconds) && seconds > 0 && seconds <= 600)) {
        throw new InputError(`--seconds must be a number of seconds between 0 and 600, got "${opts.seconds}"`, {
          field: '--seconds',
        });
      }
      code = await energyProbeCommand({ sysfs: opts.sysfs, json: opts.json, nvmlLibrary: opts.nvmlLibrary, seconds });
    });

  program
    .command('master')
    .description('run the master service (job queue, store, exporters)')
    .allowUnknownOption()
    .helpOption(false)
    .argument('[args...]')
    .action(async (args: string[]) => {
      const { masterCommand } = await import('../master/cli.ts');
      code = await masterCommand(args, log, controller.signal);
    });

  program
    .command('agent')
    .description('run a worker agent that pulls jobs from a master')
    .allowUnknownOption()
    .helpOption(false)
    .argument('[args...]')
    .action(async (args: string[]) => {
      const { agentCommand } = await import('../agent/cli.ts');
      code = await agentCommand(args, log, controller.signal);
    });

  program
    .command('report')
    .description(
      'write reports (md, csv, json, html) from a results folder or database; --compare BASE TEST compares two campaigns',
    )
    .allowUnknownOption()
    .helpOption(false)
    .argument('[args...]')
    .action(async (args: string[]) => {
      const { reportCommand } = await import('../analyzers/cli.ts');
      code = await reportCommand(args);
    });

  program
    .command('recommend')
    .description('recommend codec/preset/rate for a quality goal at the least energy')
    .allowUnknownOption()
    .helpOption(false)
    .argument('[args...]')
    .action(async (args: string[]) => {
      const { recommendCommand } = await import('../advisor/cli.ts');
      const { withMaster } = await import('../harness/ops/connect.ts');
      code = await recommendCommand(args, {
        out: (s) => process.stdout.write(s),
        err: (s) => process.stderr.write(s),
        // --node with --master: the master's nodes with the operator's credentials, as `ffwatt nodes` reads them.
        masterNodes: (flags) =>
          withMaster(flags, async (m) => {
            const { nodes } = await m.request<{
              nodes: Array<{ id: string; hostname: string; hardwareClass?: string | null }>;
            }>('GET', '/nodes');
            return nodes.map((n) => ({ id: n.id, hostname: n.hostname, hardwareClass: n.hardwareClass ?? null }));
          }),
      });
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
    }
    if (err instanceof InputError) {
      process.stderr.write(`error: ${err.message}\n`);
      return EXIT_BAD_INPUT;
    }
    process.stderr.write(`error: ${(err as Error).message}\n`);
    if (process.env.FFWATT_DEBUG) process.stderr.write(String((err as Error).stack) + '\n');
    return exitCodeOf(err);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return code;
}
