// Validate AsyncAPI documents with the official parser (@asyncapi/parser).
// Usage: node validate_asyncapi.mjs FILE...   Prints one JSON line per file:
// {"file", "valid", "errors": [...], "warnings": n, "channels": n, "operations": n}.
// Exit status 1 when any document has an error-severity diagnostic.
import { readFileSync } from "node:fs";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const parser = new Parser();
let failed = false;
for (const file of process.argv.slice(2)) {
  const { document, diagnostics } = await parser.parse(readFileSync(file, "utf8"));
  const errors = diagnostics
    .filter((d) => d.severity === DiagnosticSeverity.Error)
    .map((d) => `${d.code} at ${JSON.stringify(d.path)}: ${d.message}`);
  const warnings = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Warning)
    .map((d) => `${d.code} at ${JSON.stringify(d.path)}: ${d.message}`);
  const valid = document !== undefined && errors.length === 0;
  failed ||= !valid;
  console.log(JSON.stringify({
    file,
    valid,
    errors,
    warnings,
    version: document?.version(),
    channels: document ? document.channels().all().map((c) => c.id()) : [],
    operations: document ? document.operations().all().map((o) => `${o.action()}:${o.id()}`) : [],
    messages: document ? document.messages().all().map((m) => m.name()) : [],
  }));
}
process.exit(failed ? 1 : 0);
