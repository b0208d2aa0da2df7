import type { APIGatewayProxyResult } from 'aws-lambda';
import {
  type ExportFormat,
  entitiesQuerySchema,
  exportFileOf,
  exportPathSchema,
  exportQuerySchema,
} from '../../contracts/api-standards.js';
import type { CityQueryPorts } from '../../domain/city-queries.js';
import { type DeviceRegistry, isDeviceRegistry } from '../../domain/device.js';
import { exportReadings } from '../../domain/exports.js';
import { listEntities } from '../../domain/ngsi-ld.js';
import { path, query, type Route } from './route.js';

/** Media types of the export formats; CSV says its charset, as RFC 4180 leaves it to the media type. */
const EXPORT_CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  geojson: 'application/geo+json',
};

/**
 * The next page, as a Link (RFC 8288) whose target is only a query string: a relative reference keeps the path
 * the client called, so it holds behind a stage prefix or a custom domain alike.
 */
function nextLink(parameters: Record<string, string | number>): string {
  const search = new URLSearchParams(
    Object.entries(parameters).map(([name, value]): [string, string] => [name, String(value)]),
  );
  return `<?${search.toString()}>; rel="next"`;
}

function registryOf(ports: CityQueryPorts): Pick<DeviceRegistry, 'list'> {
  if (!isDeviceRegistry(ports.devices))
    throw new Error('the device directory of this platform cannot list devices');
  return ports.devices;
}

/** NGSI-LD entities and exports. */
export const standardsRouteHandlers: Record<string, Route> = {
  /**
   * Entities as `application/json` with the model's JSON-LD context in a Link header (NGSI-LD's answer to an
   * `application/json` request), not `application/ld+json` with `@context` in every entity: plain JSON clients
   * read it as they are, and one pinned context URL per response is the whole of the linked-data part.
   */
  'GET /ngsi-ld/v1/entities': async (event, { ports }): Promise<APIGatewayProxyResult> => {
    const request = entitiesQuerySchema.parse(query(event));
    const page = await listEntities({ registry: registryOf(ports), latestState: ports.latestState }, request);
    const links = [
      `<${page.context}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`,
    ];
    if (page.nextCursor) {
      links.push(
        nextLink({
          type: request.type,
          options: request.options,
          limit: request.limit,
          cursor: page.nextCursor,
        }),
      );
    }
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store', link: links.join(', ') },
      body: JSON.stringify(page.entities),
    };
  },
  'GET /export/{file}': async (event, { ports, now }): Promise<APIGatewayProxyResult> => {
    const { file } = exportPathSchema.parse(path(event));
    const { deviceType, format } = exportFileOf(file);
    const request = exportQuerySchema.parse(query(event));
    const page = await exportReadings(
      { registry: registryOf(ports), telemetry: ports.telemetry },
      { deviceType, format, ...request },
      now,
    );
    return {
      statusCode: 200,
      headers: {
        'content-type': EXPORT_CONTENT_TYPES[format],
        'cache-control': 'no-store',
        ...(page.nextCursor ? { link: nextLink({ limit: request.limit, cursor: page.nextCursor }) } : {}),
      },
      body: page.body,
    };
  },
};
