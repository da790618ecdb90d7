// Runs every server audit of the `graphql-http` package against a running civic-panel and
// exits non-zero if any MUST fails or any SHOULD warns.
//
// Usage: node audit.mjs http://127.0.0.1:8080/graphql
import { auditServer } from 'graphql-http';

const url = process.argv[2] ?? 'http://127.0.0.1:8080/graphql';
const results = await auditServer({ url });

let failures = 0;
let warnings = 0;
for (const result of results) {
  const mark = result.status === 'ok' ? 'ok  ' : result.status === 'warn' ? 'WARN' : 'FAIL';
  if (result.status === 'error') failures += 1;
  if (result.status === 'warn') warnings += 1;
  console.log(`${mark} ${result.id} ${result.name}`);
  if (result.status !== 'ok') {
    const reason = result.reason ?? '';
    const response = result.response
      ? ` (status ${result.response.status}, body ${JSON.stringify(await result.response.text().catch(() => ''))})`
      : '';
    console.log(`     ${reason}${response}`);
  }
}
const passed = results.length - failures - warnings;
console.log(`graphql-http audit: ${results.length} audits, ${failures} MUST failures, ${warnings} SHOULD warnings`);
console.log(`${passed} passed, ${failures + warnings} failed`);
process.exit(failures + warnings === 0 ? 0 : 1);
