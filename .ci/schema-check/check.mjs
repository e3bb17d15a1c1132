// Loads docs/schema.graphql in graphql-js, the reference implementation, and fails on any
// error: what a real client's tooling would do with the published schema.
import { readFileSync } from "node:fs";
import { buildSchema, validateSchema } from "graphql";

const path = new URL("../../docs/schema.graphql", import.meta.url);
const schema = buildSchema(readFileSync(path, "utf8"));
const errors = validateSchema(schema);
if (errors.length > 0) {
  console.error(errors.map((e) => e.message).join("\n"));
  process.exit(1);
}
const types = Object.keys(schema.getTypeMap()).filter((t) => !t.startsWith("__"));
console.log(`docs/schema.graphql is valid for graphql-js (${types.length} types)`);
