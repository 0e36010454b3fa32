/**
 * Anthropic model names -> Vertex AI model ids. Vertex publishes Claude models under ids that
 * carry a release date (`claude-sonnet-4-5@20250929`). Names that already carry a date, and
 * names we do not know, pass through unchanged (a newer model may be used before this table
 * learns it; Vertex then answers with a clear 404 that the runner reports).
 */
export const VERTEX_MODEL_IDS: Readonly<Record<string, string>> = {
  'claude-opus-4-5': 'claude-opus-4-5@20251101',
  'claude-sonnet-4-5': 'claude-sonnet-4-5@20250929',
  'claude-haiku-4-5': 'claude-haiku-4-5@20251001',
  'claude-opus-4-1': 'claude-opus-4-1@20250805',
  'claude-opus-4': 'claude-opus-4@20250514',
  'claude-sonnet-4': 'claude-sonnet-4@20250514',
  'claude-3-7-sonnet': 'claude-3-7-sonnet@20250219',
  'claude-3-5-haiku': 'claude-3-5-haiku@20241022',
};

/** Anthropic API ids with a `-YYYYMMDD` suffix map to the same Vertex id with `@YYYYMMDD`. */
export function toVertexModelId(model: string): string {
  if (model.includes('@')) return model;
  const known = VERTEX_MODEL_IDS[model];
  if (known) return known;
  const dated = /^(claude-[a-z0-9-]+?)-(\d{8})$/.exec(model);
  if (dated) return `${dated[1]}@${dated[2]}`;
  return model;
}
