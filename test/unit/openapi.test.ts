import { readFile } from 'node:fs/promises';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { OPENAPI_FILE, renderOpenApiDocument } from '../../bin/openapi.js';
import {
  ADMINS,
  ANY_STAFF,
  OPEN_DATA,
  PUBLIC,
  type RouteSpec,
  routeKey,
} from '../../lambdas/contracts/api-routes.js';
import {
  CITY_API_INFO,
  errorStatuses,
  type OpenApiDocument,
  openApiDocument,
  operationId,
} from '../../lambdas/contracts/openapi.js';
import { cityApiDocument, DOCUMENTED_ROUTES } from '../../lambdas/handlers/api/docs-routes.js';
import { routeSpecsFor } from '../../lambdas/handlers/city-api.js';
import { BLUEPRINTS } from '../../services/catalogue.js';
import { DocumentSchemas, schemasOf } from '../support/openapi-schemas.js';

const STALE =
  'docs/openapi.json is not what the route specs generate: run npm run openapi and commit the result';

type JsonSchema = { readonly properties?: Record<string, unknown> };

const operationOf = (document: OpenApiDocument, spec: Pick<RouteSpec, 'method' | 'path'>) =>
  document.paths[spec.path]?.[spec.method.toLowerCase()];

describe('docs/openapi.json', () => {
  it('is what the route specs generate now', async () => {
    const committed = await readFile(OPENAPI_FILE, 'utf8').catch(() => '');
    expect(committed, STALE).not.toBe('');
    const fresh = renderOpenApiDocument();
    expect(JSON.parse(committed), STALE).toEqual(JSON.parse(fresh));
    // Same text too: key order, 2-space indentation and the final newline, so regenerating changes no byte.
    expect(committed === fresh, STALE).toBe(true);
  });

  it('is the document GET /openapi.json serves', async () => {
    expect(JSON.parse(renderOpenApiDocument())).toEqual(cityApiDocument());
  });

  it('carries the package version', async () => {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(CITY_API_INFO.version).toBe(pkg.version);
  });
});

describe('the OpenAPI document', () => {
  const document = cityApiDocument();

  it('validates as OpenAPI 3.1', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document) as unknown as Record<string, unknown>);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('would be refused by the validator if it were broken (the check above can fail)', async () => {
    const { info: _info, ...withoutInfo } = structuredClone(document);
    const result = await new Validator().validate(withoutInfo as unknown as Record<string, unknown>);
    expect(result.valid).toBe(false);
  });

  it('holds only schemas a draft 2020-12 validator compiles in strict mode, every reference resolving', () => {
    const schemas = new DocumentSchemas(document);
    const all = schemasOf(document);
    expect(all.length).toBeGreaterThan(50);
    for (const { where, schema } of all) {
      expect(() => schemas.compile(schema), where).not.toThrow();
    }
  });

  it('resolves every shared response it refers to', () => {
    for (const operations of Object.values(document.paths)) {
      for (const operation of Object.values(operations)) {
        for (const response of Object.values(operation.responses)) {
          const ref = response.$ref;
          if (typeof ref === 'string') {
            expect(
              document.components.responses[ref.replace('#/components/responses/', '')],
              ref,
            ).toBeDefined();
          }
        }
      }
    }
  });

  it('describes every route this platform serves with all services enabled, and no other', () => {
    const served = routeSpecsFor(BLUEPRINTS).map(routeKey).sort();
    const documented = Object.entries(document.paths)
      .flatMap(([path, operations]) =>
        Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
      )
      .sort();
    expect(documented).toEqual(served);
    expect(DOCUMENTED_ROUTES.map(routeKey).sort()).toEqual(served);
  });

  it.each(routeSpecsFor(BLUEPRINTS).map((spec) => [routeKey(spec), spec] as const))(
    '%s carries its security decision',
    (_key, spec) => {
      const operation = operationOf(document, spec);
      expect(operation).toBeDefined();
      const security = operation?.security;
      if (spec.access.kind === 'public') {
        expect(security).toEqual([]);
        expect(operation?.responses).not.toHaveProperty('401');
        expect(operation?.responses).not.toHaveProperty('403');
      } else if (spec.access.kind === 'open-data') {
        expect(security).toEqual([{ apiKey: [] }]);
        expect(operation?.responses).not.toHaveProperty('401');
        expect(operation?.responses).toHaveProperty('403');
      } else {
        // Each accepted group is an alternative requirement: any one of them will do.
        expect(security).toEqual(spec.access.groups.map((group) => ({ cognito: [group] })));
        expect(operation?.responses).toHaveProperty('401');
        expect(operation?.responses).toHaveProperty('403');
      }
    },
  );

  it('gives every route a 2xx answer with a schema, and the open-data routes their items', () => {
    for (const spec of DOCUMENTED_ROUTES) {
      const operation = operationOf(document, spec);
      const success = operation?.responses[String(spec.successStatus ?? 200)];
      const content = Object.values((success?.content ?? {}) as Record<string, { schema?: unknown }>);
      expect(content.length, routeKey(spec)).toBeGreaterThan(0);
      for (const media of content) expect(media.schema, routeKey(spec)).toBeDefined();
    }
    const withOpenData = BLUEPRINTS.filter((b) => b.openData);
    expect(withOpenData.map((b) => b.name)).toEqual(['parking', 'air-quality', 'traffic', 'flood']);
    for (const blueprint of withOpenData) {
      expect(blueprint.openData?.schema, blueprint.name).toBeDefined();
      const operation = operationOf(document, { method: 'GET', path: `/${blueprint.openData?.path}` });
      const content = (operation?.responses['200']?.content ?? {}) as Record<string, { schema?: JsonSchema }>;
      const schema = content['application/json']?.schema;
      expect(schema?.properties?.items).toMatchObject({ type: 'array', items: { type: 'object' } });
    }
  });

  it('answers every error as problem+json with the one Problem schema', () => {
    expect(Object.keys(document.components.responses).sort()).toEqual(
      [
        'BadRequest',
        'Conflict',
        'Forbidden',
        'InternalError',
        'NotFound',
        'PayloadTooLarge',
        'TooManyRequests',
        'Unauthorized',
      ].sort(),
    );
    for (const response of Object.values(document.components.responses)) {
      expect(response.content).toEqual({
        'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
      });
    }
    expect(document.components.schemas.Problem).toMatchObject({
      type: 'object',
      required: ['type', 'title', 'status', 'detail'],
    });
  });

  it('declares the Cognito bearer token and the x-api-key header, and a relative server', () => {
    expect(document.components.securitySchemes.cognito).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(document.components.securitySchemes.apiKey).toMatchObject({
      type: 'apiKey',
      in: 'header',
      name: 'x-api-key',
    });
    expect(document.servers).toEqual([expect.objectContaining({ url: '.' })]);
  });
});

describe('openApiDocument', () => {
  const idPath = z.strictObject({ id: z.string().regex(/^d-\d+$/) });
  const listQuery = z.strictObject({
    type: z.enum(['a', 'b']).describe('Which kind'),
    ward: z.string().optional(),
    limit: z.coerce.number().int().min(1).max(50).default(10),
  });
  const thing = z.object({ id: z.string(), size: z.number().default(1) }).meta({ id: 'TestThing' });
  const routes: RouteSpec[] = [
    {
      method: 'GET',
      path: '/things',
      summary: 'List',
      tag: 'things',
      access: ANY_STAFF,
      query: listQuery,
      response: z.object({ items: z.array(thing) }),
    },
    {
      method: 'GET',
      path: '/things/{id}',
      summary: 'One',
      tag: 'things',
      access: OPEN_DATA,
      pathParams: idPath,
      response: thing,
    },
    {
      method: 'POST',
      path: '/things',
      summary: 'Add',
      tag: 'things',
      access: ADMINS,
      body: thing,
      response: thing,
      successStatus: 201,
    },
    {
      method: 'GET',
      path: '/things/{id}.csv',
      summary: 'As CSV',
      tag: 'things',
      access: PUBLIC,
      pathParams: idPath,
      responseContent: { 'text/csv': z.string() },
    },
  ];

  it('makes parameters from the path and query schemas: required unless optional or defaulted', () => {
    const document = openApiDocument(routes);
    expect(document.paths['/things']?.get?.parameters).toEqual([
      {
        name: 'type',
        in: 'query',
        required: true,
        description: 'Which kind',
        schema: { type: 'string', enum: ['a', 'b'] },
      },
      { name: 'ward', in: 'query', required: false, schema: { type: 'string' } },
      {
        name: 'limit',
        in: 'query',
        required: false,
        schema: { type: 'integer', minimum: 1, maximum: 50, default: 10 },
      },
    ]);
    expect(document.paths['/things/{id}']?.get?.parameters).toEqual([
      { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^d-\\d+$' } },
    ]);
  });

  it('names a schema with an id once, and its input form apart when it differs from the answer', () => {
    const document = openApiDocument(routes);
    expect(document.paths['/things/{id}']?.get?.responses['200']).toEqual({
      description: 'OK',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/TestThing' } } },
    });
    expect(document.paths['/things']?.post?.requestBody).toEqual({
      required: true,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/TestThingInput' } } },
    });
    // The answer always carries `size`; a request may leave it out.
    expect(document.components.schemas.TestThing?.required).toEqual(['id', 'size']);
    expect(document.components.schemas.TestThingInput?.required).toEqual(['id']);
  });

  it('states the success status and media types a route declares', () => {
    const document = openApiDocument(routes);
    expect(document.paths['/things']?.post?.responses['201']).toMatchObject({ description: 'Created' });
    expect(document.paths['/things']?.post?.responses).not.toHaveProperty('200');
    expect(document.paths['/things/{id}.csv']?.get?.responses['200']).toEqual({
      description: 'OK',
      content: { 'text/csv': { schema: { type: 'string' } } },
    });
  });

  it('lists the problem answers that apply to each route', () => {
    const [list, one, add, csv] = routes as [RouteSpec, RouteSpec, RouteSpec, RouteSpec];
    expect(errorStatuses(list)).toEqual([400, 401, 403, 429, 500]);
    expect(errorStatuses(one)).toEqual([400, 403, 404, 429, 500]);
    expect(errorStatuses(add)).toEqual([400, 401, 403, 409, 413, 429, 500]);
    expect(errorStatuses(csv)).toEqual([400, 404, 429, 500]);
    expect(errorStatuses({ method: 'GET', path: '/health', summary: '', tag: '', access: PUBLIC })).toEqual([
      429, 500,
    ]);
    const document = openApiDocument(routes);
    expect(Object.keys(document.paths['/things']?.post?.responses ?? {})).toEqual([
      '201',
      '400',
      '401',
      '403',
      '409',
      '413',
      '429',
      '500',
    ]);
  });

  it('is the same document whatever order the routes come in', () => {
    expect(JSON.stringify(openApiDocument([...routes].reverse()))).toBe(
      JSON.stringify(openApiDocument(routes)),
    );
  });

  it('names operations after method and path', () => {
    expect(operationId({ method: 'GET', path: '/devices/{id}/latest' })).toBe('getDevicesIdLatest');
    expect(operationId({ method: 'GET', path: '/ngsi-ld/v1/entities' })).toBe('getNgsiLdV1Entities');
    const ids = Object.values(cityApiDocument().paths).flatMap((ops) =>
      Object.values(ops).map((o) => o.operationId),
    );
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('refuses a route declared twice', () => {
    expect(() => openApiDocument([...routes, { ...(routes[0] as RouteSpec), summary: 'again' }])).toThrow(
      'route GET /things is declared twice',
    );
  });

  it('refuses path parameters without a schema, or a schema field with no place in the path', () => {
    const base = { method: 'GET', summary: '', tag: 't', access: PUBLIC } as const;
    expect(() => openApiDocument([{ ...base, path: '/a/{id}' }])).toThrow(
      'path parameters [id] and pathParams []',
    );
    expect(() => openApiDocument([{ ...base, path: '/a', pathParams: idPath }])).toThrow(
      'path parameters [] and pathParams [id]',
    );
  });

  it('refuses two different schemas under one id', () => {
    const other = z.object({ name: z.string() }).meta({ id: 'TestThing' });
    const clash: RouteSpec = {
      method: 'GET',
      path: '/other',
      summary: '',
      tag: 't',
      access: PUBLIC,
      response: other,
    };
    expect(() => openApiDocument([...routes, clash])).toThrow(
      "two different schemas are both called 'TestThing'",
    );
  });
});
