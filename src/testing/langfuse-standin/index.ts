// A local Langfuse stand-in for tests and the offline end-to-end test: accepts OTLP trace exports
// as the real Langfuse does and answers its public read API. See docs/langfuse.md.
export {
  startLangfuseStandin,
  type LangfuseStandin,
  type LangfuseStandinOptions,
  type StandinMode,
  type StandinRequest,
} from './server.js';
export {
  decodeJsonRequest,
  decodeProtobufRequest,
  OtlpDecodeError,
  type OtlpSpan,
  type AttrValue,
} from './otlp.js';
export {
  buildObservations,
  buildTraces,
  STANDIN_PROJECT_ID,
  type StandinObservation,
  type StandinTrace,
  type ObservationType,
  type PriceTable,
} from './convert.js';
