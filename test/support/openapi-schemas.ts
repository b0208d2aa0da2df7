import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';
import type { JsonObject, OpenApiDocument } from '../../lambdas/contracts/openapi.js';

const DOCUMENT_ID = 'urn:civic-iot:openapi';

/**
 * Validates values against the schemas of an OpenAPI 3.1 document with a JSON Schema draft 2020-12 validator
 * (Ajv in strict mode, with formats): the document's components become the `$defs` of one schema, and each
 * schema asked for is compiled with its `#/components/schemas/...` references pointing there.
 */
export class DocumentSchemas {
  private readonly ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(document: Pick<OpenApiDocument, 'components'>) {
    formats.default(this.ajv);
    this.ajv.addSchema({ $id: DOCUMENT_ID, $defs: pointAtDocument(document.components.schemas) });
  }

  /** Compiles the schema (throws when it is not valid draft 2020-12 in strict mode). */
  compile(schema: JsonObject): ValidateFunction {
    const key = JSON.stringify(schema);
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(pointAtDocument(schema) as JsonObject);
      this.compiled.set(key, validate);
    }
    return validate;
  }

  /** What is wrong with `value` as `schema` describes it, one line per problem; empty when it conforms. */
  errors(schema: JsonObject, value: unknown): string[] {
    const validate = this.compile(schema);
    if (validate(value)) return [];
    return (validate.errors ?? []).map(
      (e) => `${e.instancePath || '(root)'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
    );
  }
}

function pointAtDocument(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(pointAtDocument);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) =>
      key === '$ref' && typeof item === 'string' && item.startsWith('#/components/schemas/')
        ? [key, `${DOCUMENT_ID}#/$defs/${item.slice('#/components/schemas/'.length)}`]
        : [key, pointAtDocument(item)],
    ),
  );
}

/** Every schema object the document holds (components, parameters, bodies, answers), with where it is. */
export function schemasOf(
  document: OpenApiDocument,
): { readonly where: string; readonly schema: JsonObject }[] {
  const found: { where: string; schema: JsonObject }[] = [];
  for (const [name, schema] of Object.entries(document.components.schemas)) {
    found.push({ where: `components.schemas.${name}`, schema });
  }
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const at = `${method.toUpperCase()} ${path}`;
      for (const parameter of operation.parameters ?? []) {
        found.push({ where: `${at} parameter ${parameter.name}`, schema: parameter.schema });
      }
      const bodies = [
        ['request body', operation.requestBody?.content],
        ...Object.entries(operation.responses).map(([status, response]) => [status, response.content]),
      ] as const;
      for (const [what, content] of bodies) {
        for (const [mediaType, media] of Object.entries((content ?? {}) as Record<string, JsonObject>)) {
          if (media.schema)
            found.push({ where: `${at} ${what} ${mediaType}`, schema: media.schema as JsonObject });
        }
      }
    }
  }
  return found;
}
