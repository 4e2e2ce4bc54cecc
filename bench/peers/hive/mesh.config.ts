// GraphQL Mesh composition of the metering emulator's published OpenAPI description
// (GET /api/v1/openapi.json): Hive Gateway serves the supergraph this writes.
// METERING_URL is the API base, e.g. http://127.0.0.1:18102/api/v1 (set by bench/runner.py).
import { defineConfig } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';

const metering = process.env.METERING_URL ?? 'http://127.0.0.1:8102/api/v1';

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadOpenAPISubgraph('Metering', {
        source: `${metering}/openapi.json`,
        endpoint: metering,
      }),
    },
  ],
});
