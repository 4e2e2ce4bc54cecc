// Compose subgraphs with Apollo's composition library; print a JSON verdict.
// Usage: node compose.js name=file.graphql [name=file.graphql ...]
const fs = require("fs");
const { parse } = require("graphql");
const { composeServices } = require("@apollo/composition");

const services = process.argv.slice(2).map((arg) => {
  const [name, file] = arg.split("=");
  return { name, url: `http://${name}.invalid/graphql`, typeDefs: parse(fs.readFileSync(file, "utf8")) };
});
const result = composeServices(services);
process.stdout.write(
  JSON.stringify({
    errors: (result.errors || []).map((e) => e.message),
    supergraph: result.supergraphSdl || null,
  }),
);
