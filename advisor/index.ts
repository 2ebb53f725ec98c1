/** The advisor folder's public API: features, training, ONNX export/inference, recommendation, efficiency. */
export {
  buildFeatureSpec,
  encodeBatch,
  encodeOne,
  cpuClass,
  unseenCategories,
  UNKNOWN,
  type FeatureInput,
  type FeatureSpec,
} from './features.ts';
export { measureContent, describeInput, hasSitiFilter, type ContentComplexity, type ContentMethod } from './content.ts';
export { loadRuns, toTrainingRows, configKey, hardwareName, type TrainingRow, type DbRun } from './dataset.ts';
export {
  trainAdvisor,
  splitByConfiguration,
  type TrainedAdvisor,
  type AdvisorMeta,
  type TrainOptions,
} from './train.ts';
export { errorMetrics, type ErrorMetrics } from './metrics.ts';
export { ensembleToOnnx } from './onnx-export.ts';
export { writeModelFiles, readTrainingData, modelPaths } from './model-files.ts';
export { OnnxAdvisor, loadMeta, metaPathFor, type Prediction } from './infer.ts';
export { recommend, checkCoverage, type RecommendQuery, type Recommendation, type Candidate } from './recommend.ts';
export { recommendCommand } from './cli.ts';
export { trainCommand } from './train-cli.ts';
export { efficiencyScore, explainEfficiency, type EfficiencyRun, type EfficiencyDetail } from './efficiency.ts';
export { buildModelCard, renderModelCard, type ModelCard } from './model-card.ts';
