// Public API of media/: FFmpeg argument building, encoder detection, progress parsing,
// process handling (re-exported from runner/), encode cells (file and live) and the private nginx-rtmp.
// Quality scoring is its own part beside media: quality/index.ts.
export { ProgressParser, parseProgressText, type ProgressSample } from './progress.ts';
export {
  buildEncodeArgs,
  buildLiveSourceArgs,
  buildPublishArgs,
  rateArgs,
  type EncodeArgsOptions,
} from './ffmpeg-args.ts';
export { parseInputStartS } from './input-start.ts';
export { detectEncoders, resolveEncoder, defaultFfmpegPath, type EncoderReport } from './encoders.ts';
export {
  runProcess,
  startProcess,
  stopAllProcesses,
  liveProcesses,
  ProcessResult,
  type ProcessOptions,
  type RunningProcess,
} from '../runner/index.ts';
export { runEncodeCell, type CellOptions, type CellResult, type StreamOutcome } from './cell.ts';
export { startRtmpServer, type RtmpServer, type RtmpServerOptions } from './rtmp.ts';
export * from './presets.ts';
