// Maps a request path to what it asks for. The same scenarios are served on the Anthropic paths
// and on the Vertex AI paths, optionally under a `/scenarios/NAME` prefix that picks the scenario.

export interface Route {
  kind: 'messages' | 'count_tokens' | 'other';
  /** Scenario named by a `/scenarios/NAME` prefix. */
  scenario?: string;
  /** Vertex puts the model in the path instead of the body. */
  vertexModel?: string;
  /** Vertex `:streamRawPredict` streams even if the body does not say so. */
  vertexStream?: boolean;
}

const PREFIX = /^\/scenarios\/([^/]+)(\/.*)$/;
const VERTEX =
  /^(?:\/v1(?:beta1)?)?\/projects\/[^/]+\/locations\/[^/]+\/publishers\/anthropic\/models\/([^/:]+):(streamRawPredict|rawPredict)$/;

export function parseRoute(method: string, url: string): Route {
  let path = url.split('?')[0] ?? '/';
  let scenario: string | undefined;
  const prefixed = PREFIX.exec(path);
  if (prefixed) {
    scenario = decodeURIComponent(prefixed[1] ?? '');
    path = prefixed[2] ?? '/';
  }
  const base = scenario === undefined ? {} : { scenario };
  if (method !== 'POST') return { kind: 'other', ...base };
  path = path.replace(/\/+$/, '');
  if (path === '/v1/messages') return { kind: 'messages', ...base };
  if (path === '/v1/messages/count_tokens') return { kind: 'count_tokens', ...base };
  const vertex = VERTEX.exec(path);
  if (vertex) {
    const model = decodeURIComponent(vertex[1] ?? '');
    if (model === 'count-tokens') return { kind: 'count_tokens', ...base };
    return {
      kind: 'messages',
      ...base,
      vertexModel: model,
      vertexStream: vertex[2] === 'streamRawPredict',
    };
  }
  return { kind: 'other', ...base };
}
