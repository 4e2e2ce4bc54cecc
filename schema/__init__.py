"""The public GraphQL schema: Strawberry types and thin resolvers, one package per domain."""
