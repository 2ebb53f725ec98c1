/** The flags of `ffwatt run` as commander hands them over (strings; parsed by run-command.ts). */
export interface RunCommandOptions {
  matrix?: string;
  out: string;
  json?: boolean;
  master?: string;
  inventory?: string;
  limit?: string;
  tokenFile?: string;
  caCert?: string;
  detach?: boolean;
  vmafModel?: string;
  qualityFfmpeg?: string;
  ffmpeg?: string;
  sysfs?: string;
  nvmlLibrary?: string;
  wattsPerLogicalCpu?: string;
  /** The old flag: refused with a message naming --watts-per-logical-cpu. */
  wattsPerCore?: string;
  samplerHz?: string;
  report?: boolean;
  seed?: string;
  metrics?: boolean;
  metricsLinger?: string;
  placement?: string;
  dryRun?: boolean;
}
