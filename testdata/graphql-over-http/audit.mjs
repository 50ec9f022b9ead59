// Runs graphql-http's reference audit (auditServer) against a running GraphQL endpoint and
// prints one JSON document on stdout: {"results": [{id, name, status, reason, httpStatus,
// contentType, body}]}. The Go test cmd/internal/app/compliance_test.go starts the gateway
// and judges the results.
//
//   GRAPHQL_URL      the endpoint, e.g. http://127.0.0.1:PORT/graphql
//   GRAPHQL_HEADERS  JSON object of headers added to every request (credentials, CSRF preflight)
import { auditServer } from 'graphql-http';

const url = process.env.GRAPHQL_URL;
if (!url) {
  console.error('GRAPHQL_URL is not set');
  process.exit(2);
}
const extra = JSON.parse(process.env.GRAPHQL_HEADERS || '{}');

// Adds the extra headers to every request the audit makes, unless the audit set them itself.
function fetchFn(input, init = {}) {
  const headers = new Headers(init.headers);
  for (const [k, v] of Object.entries(extra)) {
    if (!headers.has(k)) headers.set(k, v);
  }
  return fetch(input, { ...init, headers });
}

const results = await auditServer({ url, fetchFn });
const out = [];
for (const r of results) {
  const o = { id: r.id, name: r.name, status: r.status };
  if (r.status !== 'ok') {
    o.reason = r.reason;
    if (r.response) {
      o.httpStatus = r.response.status;
      o.contentType = r.response.headers.get('content-type');
      try {
        o.body = (await r.response.text()).slice(0, 500);
      } catch (e) {
        o.body = `(body not readable: ${e})`;
      }
    }
  }
  out.push(o);
}
process.stdout.write(JSON.stringify({ results: out }, null, 1) + '\n');
