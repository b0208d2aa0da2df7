import { z } from 'zod';
import { PROBLEM_CONTENT_TYPE, problemSchema, STAFF_GROUPS } from './api.js';
import { type HttpMethod, type RouteSpec, routeKey } from './api-route-spec.js';

/** A JSON Schema (draft 2020-12, the dialect OpenAPI 3.1 uses) or any other plain JSON object of the document. */
export type JsonObject = { [key: string]: unknown };

/** The OpenAPI 3.1 document of the city API, as `openApiDocument` builds it. */
export interface OpenApiDocument {
  readonly openapi: '3.1.0';
  readonly info: OpenApiInfo;
  readonly servers: readonly JsonObject[];
  readonly tags: readonly { readonly name: string }[];
  readonly paths: Readonly<Record<string, Readonly<Record<string, OpenApiOperation>>>>;
  readonly components: {
    readonly securitySchemes: Readonly<Record<SecuritySchemeName, JsonObject>>;
    readonly responses: Readonly<Record<string, JsonObject>>;
    readonly schemas: Readonly<Record<string, JsonObject>>;
  };
}

export interface OpenApiInfo {
  readonly title: string;
  readonly version: string;
  readonly description: string;
  readonly license: { readonly name: string; readonly identifier: string };
}

export interface OpenApiParameter {
  readonly name: string;
  readonly in: 'path' | 'query';
  readonly required: boolean;
  readonly description?: string;
  readonly schema: JsonObject;
}

export interface OpenApiOperation {
  readonly operationId: string;
  readonly summary: string;
  readonly tags: readonly string[];
  /** Empty for public routes; one requirement per allowed group for staff routes (any one of them will do). */
  readonly security: readonly Readonly<Record<string, readonly string[]>>[];
  readonly parameters?: readonly OpenApiParameter[];
  readonly requestBody?: JsonObject;
  readonly responses: Readonly<Record<string, JsonObject>>;
}

/** What the document says about the API as a whole; the version moves with the package's. */
export const CITY_API_INFO: OpenApiInfo = {
  title: 'Civic IoT platform: city API',
  version: '0.1.0',
  description:
    'The REST API of a council-run smart-city IoT platform: the device registry, telemetry, quarantine, ' +
    "service work orders and alerts for council staff (Cognito groups admin, operator, viewer), each service's " +
    'open data (an API key for attribution and usage plans), and the cost guard. Errors are RFC 9457 ' +
    'problem details (application/problem+json); every list is paginated with an opaque cursor.',
  license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
};

type SecuritySchemeName = 'cognito' | 'apiKey';

const SECURITY_SCHEMES: Record<SecuritySchemeName, JsonObject> = {
  cognito: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      `A Cognito token of a council user in one of the groups ${STAFF_GROUPS.join(', ')}; each route's ` +
      'security lists the groups it accepts. Locally, the token in <data-dir>/local.json.',
  },
  apiKey: {
    type: 'apiKey',
    in: 'header',
    name: 'x-api-key',
    description:
      'Identifies an open-data consumer for attribution and usage plans (quota and rate). Not a security ' +
      'boundary: open-data routes serve public fields only.',
  },
};

/** The problem+json answers, by status, as shared responses: their name and when a client sees one. */
const ERROR_RESPONSES = {
  400: { name: 'BadRequest', description: 'A parameter or the body is not valid; `parameter` names it' },
  401: { name: 'Unauthorized', description: 'No token, or one that is not valid' },
  403: {
    name: 'Forbidden',
    description: "The user's group may not use this route, or the API key is missing or not valid",
  },
  404: { name: 'NotFound', description: 'There is no such thing (or no such route on this deployment)' },
  409: {
    name: 'Conflict',
    description: 'The change breaks a rule of the thing it changes; `detail` says which',
  },
  413: { name: 'PayloadTooLarge', description: 'The request body is too large' },
  429: {
    name: 'TooManyRequests',
    description: "Over the throttling limit or the API key's quota; retry later",
  },
  500: { name: 'InternalError', description: 'The request could not be completed; it has been logged' },
} as const satisfies Record<number, { readonly name: string; readonly description: string }>;

type ErrorStatus = keyof typeof ERROR_RESPONSES;

const SUCCESS_DESCRIPTIONS: Record<NonNullable<RouteSpec['successStatus']>, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
};

const METHOD_ORDER: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/**
 * The OpenAPI 3.1 document of these routes, built from their zod schemas (the same ones the handlers parse with),
 * so the document cannot drift from what the API accepts and answers. Deterministic: the same routes give the
 * same document, whatever order they come in (paths and components are sorted).
 *
 * - parameters from `pathParams` and `query` (a query field is required when it has no default and is not
 *   optional), the body from `body`, the 2xx answer from `response`;
 * - the problem+json answers that apply to the route (400 when it takes input, 401 and 403 by access, 404 for
 *   path parameters, 409 for changes to an identified thing, 413 with a body, 429 and 500 always);
 * - security: the Cognito bearer token for staff routes (one requirement per accepted group, as the groups are
 *   alternatives), the `x-api-key` header for open data, none for public routes.
 *
 * Throws when two routes share a method and path, a path parameter has no schema (or a schema field no place in
 * the path), or two different schemas carry the same component id.
 */
export function openApiDocument(
  routes: readonly RouteSpec[],
  info: OpenApiInfo = CITY_API_INFO,
): OpenApiDocument {
  const components = new SchemaComponents();
  const problemRef = components.toJson(problemSchema, 'output');
  // Answers first, inputs second: a schema used both ways keeps its plain name for the answer (see toJson).
  const answers = new Map(routes.map((spec) => [spec, answerContent(spec, components)]));
  const operations = new Map<string, { spec: RouteSpec; operation: OpenApiOperation }>();
  for (const spec of routes) {
    const key = routeKey(spec);
    if (operations.has(key)) throw new Error(`route ${key} is declared twice`);
    operations.set(key, { spec, operation: operationOf(spec, answers.get(spec) ?? {}, components) });
  }

  const paths: Record<string, Record<string, OpenApiOperation>> = {};
  const ordered = [...operations.values()].sort(
    (a, b) =>
      compare(a.spec.path, b.spec.path) ||
      METHOD_ORDER.indexOf(a.spec.method) - METHOD_ORDER.indexOf(b.spec.method),
  );
  for (const { spec, operation } of ordered) {
    paths[spec.path] ??= {};
    (paths[spec.path] as Record<string, OpenApiOperation>)[spec.method.toLowerCase()] = operation;
  }

  const responses: Record<string, JsonObject> = {};
  for (const { name, description } of Object.values(ERROR_RESPONSES)) {
    responses[name] = { description, content: { [PROBLEM_CONTENT_TYPE]: { schema: problemRef } } };
  }

  return {
    openapi: '3.1.0',
    info,
    servers: [
      {
        url: '.',
        description: 'Where this document is served: the stage URL on AWS, http://127.0.0.1:3000 locally',
      },
    ],
    tags: [...new Set(routes.map((spec) => spec.tag))].sort(compare).map((name) => ({ name })),
    paths,
    components: { securitySchemes: SECURITY_SCHEMES, responses, schemas: components.sorted() },
  };
}

/** The 2xx body by media type; a route that declares none answers undocumented JSON. */
function answerContent(spec: RouteSpec, components: SchemaComponents): Record<string, JsonObject> {
  const forms = spec.responseContent ?? (spec.response ? { 'application/json': spec.response } : undefined);
  if (!forms) return { 'application/json': {} };
  return Object.fromEntries(
    Object.entries(forms).map(([mediaType, schema]) => [
      mediaType,
      { schema: components.toJson(schema, 'output') },
    ]),
  );
}

function operationOf(
  spec: RouteSpec,
  answer: Record<string, JsonObject>,
  components: SchemaComponents,
): OpenApiOperation {
  const parameters = [
    ...parametersOf(spec, 'path', spec.pathParams, components),
    ...parametersOf(spec, 'query', spec.query, components),
  ];
  const success = spec.successStatus ?? 200;
  const responses: Record<string, JsonObject> = {
    [String(success)]: { description: SUCCESS_DESCRIPTIONS[success], content: answer },
  };
  for (const status of errorStatuses(spec)) {
    responses[String(status)] = { $ref: `#/components/responses/${ERROR_RESPONSES[status].name}` };
  }
  return {
    operationId: operationId(spec),
    summary: spec.summary,
    tags: [spec.tag],
    security: securityOf(spec),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(spec.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: components.toJson(spec.body, 'input') } },
          },
        }
      : {}),
    responses,
  };
}

/** The problem answers a route can give, from its access and what it takes. */
export function errorStatuses(spec: RouteSpec): ErrorStatus[] {
  const takesInput = Boolean(spec.pathParams || spec.query || spec.body);
  const statuses: ErrorStatus[] = [];
  if (takesInput) statuses.push(400);
  if (spec.access.kind === 'staff') statuses.push(401);
  if (spec.access.kind !== 'public') statuses.push(403);
  if (spec.pathParams) statuses.push(404);
  if (spec.method !== 'GET' && (spec.pathParams || spec.body)) statuses.push(409);
  if (spec.body) statuses.push(413);
  statuses.push(429, 500);
  return statuses;
}

function securityOf(spec: RouteSpec): Record<string, string[]>[] {
  const access = spec.access;
  if (access.kind === 'public') return [];
  if (access.kind === 'open-data') return [{ apiKey: [] }];
  return access.groups.map((group) => ({ cognito: [group] }));
}

/** `GET /devices/{id}/latest` -> `getDevicesIdLatest`: unique per route, stable for generated clients. */
export function operationId(spec: Pick<RouteSpec, 'method' | 'path'>): string {
  const words = spec.path.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return [spec.method.toLowerCase(), ...words.map((w) => w.charAt(0).toUpperCase() + w.slice(1))].join('');
}

function parametersOf(
  spec: RouteSpec,
  place: 'path' | 'query',
  schema: z.ZodObject | undefined,
  components: SchemaComponents,
): OpenApiParameter[] {
  const inPath = place === 'path' ? [...spec.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string) : [];
  const object = schema ? components.resolve(components.toJson(schema, 'input')) : {};
  const properties = (object.properties ?? {}) as Record<string, JsonObject>;
  const required = new Set((object.required ?? []) as string[]);
  if (place === 'path') {
    const declared = Object.keys(properties);
    const missing = inPath.filter((name) => !declared.includes(name));
    const extra = declared.filter((name) => !inPath.includes(name));
    if (missing.length > 0 || extra.length > 0) {
      throw new Error(
        `route ${routeKey(spec)}: path parameters [${inPath.join(', ')}] and pathParams ` +
          `[${declared.join(', ')}] differ`,
      );
    }
  }
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...propertySchema } = property;
    return {
      name,
      in: place,
      // OpenAPI requires path parameters to be required; a query field is when it has no default.
      required: place === 'path' || required.has(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: propertySchema,
    };
  });
}

/**
 * The JSON Schemas of the document. Each zod schema becomes JSON Schema with `z.toJSONSchema` (draft 2020-12);
 * schemas that carry an `id` in their metadata (`.meta({ id: 'Device' })`) become components referenced with
 * `$ref`, so a device is described once however many routes answer with one.
 */
class SchemaComponents {
  private readonly schemas = new Map<string, JsonObject>();

  /**
   * The schema as JSON Schema, its named parts moved to the components. Answers (`output`) must be converted
   * before inputs: a named schema read as input can differ from its answer form (a default, a coercion), and
   * then the input form is named `<id>Input` instead of clashing with the answer's.
   */
  toJson(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
    const generated = z.toJSONSchema(schema, {
      target: 'draft-2020-12',
      io,
      unrepresentable: 'throw',
    }) as JsonObject;
    const { $schema: _dialect, $defs, ...root } = generated;
    const definitions = ($defs ?? {}) as Record<string, JsonObject>;
    const names = new Map(Object.keys(definitions).map((id) => [id, id]));
    // Rename until stable: a definition that refers to a renamed one differs from its answer form too.
    for (let changed = io === 'input'; changed; ) {
      changed = false;
      for (const [id, definition] of Object.entries(definitions)) {
        const name = names.get(id) as string;
        const existing = this.schemas.get(name);
        if (name === id && existing && !sameJson(existing, rewriteRefs(definition, names))) {
          names.set(id, `${id}Input`);
          changed = true;
        }
      }
    }
    for (const [id, definition] of Object.entries(definitions)) {
      const name = names.get(id) as string;
      const json = rewriteRefs(definition, names) as JsonObject;
      const existing = this.schemas.get(name);
      if (existing && !sameJson(existing, json)) {
        throw new Error(`two different schemas are both called '${name}'; give one of them another id`);
      }
      this.schemas.set(name, json);
    }
    return rewriteRefs(root, names) as JsonObject;
  }

  /** A schema's own fields, following a root `$ref` to its component. */
  resolve(json: JsonObject): JsonObject {
    const ref = json.$ref;
    if (typeof ref !== 'string') return json;
    return this.schemas.get(ref.slice('#/components/schemas/'.length)) ?? json;
  }

  sorted(): Record<string, JsonObject> {
    return Object.fromEntries([...this.schemas.entries()].sort(([a], [b]) => compare(a, b)));
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function rewriteRefs(value: unknown, names: ReadonlyMap<string, string>): unknown {
  if (Array.isArray(value)) return value.map((item) => rewriteRefs(item, names));
  if (value === null || typeof value !== 'object') return value;
  const out: JsonObject = {};
  for (const [key, item] of Object.entries(value)) {
    if (key === '$ref' && typeof item === 'string' && item.startsWith('#/$defs/')) {
      const id = item.slice('#/$defs/'.length);
      out[key] = `#/components/schemas/${names.get(id) ?? id}`;
    } else out[key] = rewriteRefs(item, names);
  }
  return out;
}

/** Code-point order: the same on every machine and locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
