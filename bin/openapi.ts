/**
 * `npm run openapi`
 *
 * Writes docs/openapi.json: the city API's OpenAPI 3.1 document, generated from the route specs' zod schemas
 * (the same document GET /openapi.json serves). Run it after changing a route or a schema and commit the
 * result; a unit test fails while the committed document is stale.
 */

import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { cityApiDocument } from '../lambdas/handlers/api/docs-routes.js';

/** Where the committed document lives. */
export const OPENAPI_FILE = fileURLToPath(new URL('../docs/openapi.json', import.meta.url));

/** The document as committed: 2-space JSON, keys in the generator's (deterministic) order, a final newline. */
export function renderOpenApiDocument(): string {
  return `${JSON.stringify(cityApiDocument(), null, 2)}\n`;
}

async function main(): Promise<void> {
  const text = renderOpenApiDocument();
  await writeFile(OPENAPI_FILE, text, 'utf8');
  const paths = Object.keys(cityApiDocument().paths).length;
  console.log(`openapi: wrote ${OPENAPI_FILE} (${paths} paths, ${text.length} bytes)`);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) await main();
