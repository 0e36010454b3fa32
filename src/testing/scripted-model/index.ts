// The scripted model server: a local, offline stand-in for the Anthropic Messages API that the
// real Claude Code CLI can run whole sessions against. Format and rules: docs/scripted-model.md.
export {
  startScriptedModelServer,
  isAuxiliary,
  AUXILIARY_TEXT,
  type ScriptedModelServer,
  type ScriptedModelOptions,
  type RecordedRequest,
  type ServedResponse,
} from './server.js';
export { loadScenarioFile, loadScenarioDir, parseScenario, ScenarioError } from './schema.js';
export type { Scenario, Turn, Step, ToolCall, StepUsage, StepError, StopReason } from './schema.js';
export type { Usage } from './reply.js';
export { shippedScenarioDir } from './shipped.js';
