// Public API of quality/: scoring encoded outputs against their reference (PSNR, SSIM, VMAF through
// a libvmaf FFmpeg), finding where a live output starts in the reference, and probing the scoring
// FFmpeg. Every FFmpeg it starts goes through runner/, so Ctrl-C stops scoring too.
export {
  scoreOutputs,
  PSNR_CAP_DB,
  VMAF_MODEL_ENV,
  QUALITY_FFMPEG_ENV,
  type QualityOutputInput,
  type ScoreOutputsOptions,
  type ScoredOutput,
  type ScoredQuality,
} from './score.ts';
export { probeScoringFfmpeg, type ScoringFfmpeg } from './ffmpeg.ts';
export { alignToReference, type AlignOptions, type OffsetAlignment } from './align.ts';
