// Hive Gateway as the bench runs it: the Mesh-composed supergraph of metering, quiet logs,
// and optionally (HIVE_RESPONSE_CACHE=1) its response-cache plugin, shared by all clients
// (no session) with the 300 s lifetime our gateway gives meters.
import { defineConfig } from '@graphql-hive/gateway';

const cached = process.env.HIVE_RESPONSE_CACHE === '1';

export const gatewayConfig = defineConfig({
  supergraph: './supergraph.graphql',
  logging: 'error',
  ...(cached ? { responseCaching: { session: () => null, ttl: 300_000 } } : {}),
});
