// The scripted model server: a local, offline stand-in for the Anthropic Messages API that the
// real Claude Code CLI can run whole sessions against. Format and rules: docs/scripted-model.md.
export { startScriptedModelServer } from './server.js';
export type {
  ScriptedModelServer,
  ScriptedModelOptions,
  RecordedRequest,
  ServedResponse,
} from './types.js';
export { isAuxiliary, AUXILIARY_TEXT } from './auxiliary.js';
export { loadScenarioFile, loadScenarioDir, parseScenario, ScenarioError } from './schema.js';
export type { Scenario, Turn, Step, ToolCall, StepUsage, StepError, StopReason } from './schema.js';
export type { Usage } from './reply.js';
export { shippedScenarioDir } from './shipped.js';
