/**
 * The OpenAPI 3.1 document, generated from the route table and the zod schemas that validate
 * requests (`z.toJSONSchema`, input shapes for requests, output shapes for responses). Named
 * schemas become components; errors share one `Error` schema.
 */
import { z } from 'zod';
import {
  CreateSessionRequest,
  ErrorResponse,
  GithubTokenResponse,
  HealthResponse,
  HistoryEntry,
  HistoryResponse,
  PatchSessionRequest,
  SendMessageRequest,
  SendMessageResponse,
  SessionList,
  SessionResource,
  StatusUpdateRequest,
} from '../../protocol/api.js';
import { ROUTES } from '../../protocol/paths.js';
import { AFTER_SEQ_PARAM } from '../../protocol/socket.js';
import type { Route } from './router.js';

const NAMED: [string, z.ZodType][] = [
  ['CreateSessionRequest', CreateSessionRequest],
  ['PatchSessionRequest', PatchSessionRequest],
  ['StatusUpdate', StatusUpdateRequest],
  ['Session', SessionResource],
  ['SessionList', SessionList],
  ['SendMessageRequest', SendMessageRequest],
  ['SendMessageResponse', SendMessageResponse],
  ['HistoryEntry', HistoryEntry],
  ['HistoryResponse', HistoryResponse],
  ['GithubTokenResponse', GithubTokenResponse],
  ['Health', HealthResponse],
  ['Error', ErrorResponse],
];

const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid request: `error` names each invalid field (values are never echoed), `fields` lists them. Also: a body that is not JSON or is nested deeper than 100 levels, and text holding a NUL or another control character (only tab, newline and carriage return are allowed)',
  401: 'Missing or invalid token',
  403: 'The token may not do this (a runner token outside its own session or project, or a bound on sessions creating sessions)',
  404: 'No such project, session or endpoint',
  413: 'The body is larger than the limit (1 MiB by default)',
  415: 'The body is not JSON',
};

type Json = Record<string, unknown>;

function schemaOf(schema: z.ZodType, io: 'input' | 'output'): Json {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json;
  delete json.$schema;
  return json;
}

export function buildOpenApi(routes: readonly Route[], version: string): Json {
  const names = new Map<z.ZodType, string>(NAMED.map(([n, s]) => [s, n]));
  const schemas: Json = {};
  for (const [name, schema] of NAMED) {
    const io = /Request$|^StatusUpdate$/.test(name) ? 'input' : 'output';
    schemas[name] = schemaOf(schema, io);
  }
  const ref = (schema: z.ZodType, io: 'input' | 'output'): Json => {
    const name = names.get(schema);
    return name ? { $ref: `#/components/schemas/${name}` } : schemaOf(schema, io);
  };

  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const parameters: Json[] = [];
    for (const m of route.path.matchAll(/\{(\w+)\}/g))
      parameters.push({
        name: m[1],
        in: 'path',
        required: true,
        schema: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$' },
        description: m[1] === 'project' ? 'Project (namespace)' : 'Session name',
      });
    if (route.query) {
      const q = schemaOf(route.query, 'input') as {
        properties?: Record<string, Json>;
        required?: string[];
      };
      for (const [name, schema] of Object.entries(q.properties ?? {}))
        parameters.push({
          name,
          in: 'query',
          required: q.required?.includes(name) ?? false,
          schema,
        });
    }
    if (route.path === ROUTES.socket) {
      parameters.push(
        {
          name: AFTER_SEQ_PARAM,
          in: 'query',
          required: false,
          schema: { type: 'integer', minimum: 0 },
          description: 'Watchers: replay history after this position',
        },
        {
          name: 'token',
          in: 'query',
          required: false,
          schema: { type: 'string' },
          description: 'The token, for clients that cannot set headers',
        },
      );
    }
    const responses: Json = {};
    for (const [code, doc] of Object.entries(route.responses)) {
      const status = Number(code);
      const content =
        doc.schema !== undefined
          ? { [doc.contentType ?? 'application/json']: { schema: ref(doc.schema, 'output') } }
          : doc.contentType
            ? { [doc.contentType]: { schema: { type: 'string' } } }
            : status >= 400
              ? { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } }
              : undefined;
      responses[code] = {
        description: doc.description,
        ...(doc.headers ? { headers: doc.headers } : {}),
        ...(content ? { content } : {}),
      };
    }
    const errors = [
      400,
      ...(route.access === 'public' ? [] : [401, 403, 404]),
      ...(route.body ? [413, 415] : []),
    ];
    for (const code of errors)
      responses[String(code)] ??= {
        description: ERROR_TEXT[code],
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      };
    const op: Json = {
      operationId: route.operationId,
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      ...(route.access === 'public' ? { security: [] } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(route.body
        ? {
            requestBody: {
              required: route.bodyRequired ?? false,
              content: {
                [route.method === 'PATCH' ? 'application/merge-patch+json' : 'application/json']: {
                  schema: ref(route.body, 'input'),
                },
              },
            },
          }
        : {}),
      responses,
    };
    (paths[route.path] ??= {})[route.method.toLowerCase()] = op;
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'claude-code-runner control plane',
      version,
      description:
        'Sessions API, socket hub and local executor (contract §4). Errors are `{"error": "..."}`.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: "The user token, or a run's runner token (BOT_TOKEN) for its own session",
        },
      },
      schemas,
    },
    paths,
  };
}
