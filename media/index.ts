// Public API of media/: FFmpeg argument building, encoder detection, progress parsing,
// process handling, encode cells (file and live) and the private nginx-rtmp.
// (presets.ts and quality*.ts are written by other parts; their exports are added here too.)
export { ProgressParser, parseProgressText, type ProgressSample } from './progress.ts';
export { buildEncodeArgs, buildPublishArgs, rateArgs, type EncodeArgsOptions } from './ffmpeg-args.ts';
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
