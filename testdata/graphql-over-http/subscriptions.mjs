// Subscribes to a running gateway with the ecosystem's reference clients, graphql-ws
// (graphql-transport-ws) and graphql-sse (distinct connections mode), and reports what happens
// as JSON lines on stdout: {transport, event, ...}. The Go test
// cmd/internal/app/compliance_test.go starts the gateway, reads the lines, adds a restore
// session to a simulated VBO server once both subscriptions are connected, and judges.
//
//   GRAPHQL_URL    the endpoint, e.g. http://127.0.0.1:PORT/graphql
//   AUTHORIZATION  a valid Authorization header value (an API key as "Bearer <key>")
//   REFUSED        an Authorization header value the gateway refuses
//   SINCE          the subscriptions' since argument (RFC 3339)
//
// Lines: {"transport":"ws"|"sse","event":"connected"} once a subscription is open;
// {"transport":..,"event":"next","data":{..}} for the first result (then the client completes
// the subscription); {"transport":"ws","event":"closed","code":N} when the socket closes;
// {"transport":"sse","event":"complete"}; {"transport":"ws-refused","event":"closed","code":N}
// and {"transport":"sse-refused","event":"refused","status":N} for the refused credential;
// {"event":"error","transport":..,"message":".."} for anything unexpected; {"event":"done"} last.
import { createClient as createWSClient } from 'graphql-ws';
import { createClient as createSSEClient } from 'graphql-sse';
import WebSocket from 'ws';

const url = process.env.GRAPHQL_URL;
const authorization = process.env.AUTHORIZATION;
const refused = process.env.REFUSED;
const since = process.env.SINCE;
if (!url || !authorization || !refused || !since) {
  console.error('GRAPHQL_URL, AUTHORIZATION, REFUSED and SINCE must be set');
  process.exit(2);
}
const wsURL = url.replace(/^http/, 'ws');

const report = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const fail = (transport, err) => report({ transport, event: 'error', message: String(err?.message ?? err) });

const query = `subscription Started($since: DateTime) {
  restoreSessionStarted(since: $since) { upstreamId organization { name server { name } } }
}`;

// Resolves with a value, or rejects after ms: nothing here may hang the test.
function within(ms, what, promise) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// graphql-ws: a refused credential closes the socket with the given close code.
async function wsRefused() {
  const closed = new Promise((resolve) => {
    const client = createWSClient({
      url: wsURL,
      webSocketImpl: WebSocket,
      connectionParams: { Authorization: refused },
      retryAttempts: 0,
      lazy: true,
      on: { closed: (e) => resolve(e) },
    });
    client.subscribe({ query, variables: { since } }, {
      next: (r) => fail('ws-refused', `unexpected result ${JSON.stringify(r)}`),
      error: () => {},
      complete: () => {},
    });
  });
  const e = await within(10_000, 'ws refused', closed);
  report({ transport: 'ws-refused', event: 'closed', code: e.code, reason: e.reason });
}

// graphql-sse: a refused credential is an HTTP error.
async function sseRefused() {
  const client = createSSEClient({ url, headers: { Authorization: refused }, retryAttempts: 0 });
  const err = await within(10_000, 'sse refused', new Promise((resolve) => {
    client.subscribe({ query, variables: { since } }, {
      next: (r) => fail('sse-refused', `unexpected result ${JSON.stringify(r)}`),
      error: resolve,
      complete: () => resolve(new Error('completed instead of refusing')),
    });
  }));
  report({ transport: 'sse-refused', event: 'refused', status: err?.response?.status ?? 0, message: String(err?.message ?? err) });
  client.dispose();
}

// graphql-ws: subscribe, take the first result, complete, close the socket.
async function wsFirst() {
  let resolveClosed;
  const closed = new Promise((resolve) => { resolveClosed = resolve; });
  const client = createWSClient({
    url: wsURL,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: authorization },
    retryAttempts: 0,
    on: {
      connected: () => report({ transport: 'ws', event: 'connected' }),
      closed: (e) => resolveClosed(e),
    },
  });
  const results = client.iterate({ query, variables: { since } });
  const first = await within(60_000, 'ws result', results.next());
  report({ transport: 'ws', event: 'next', data: first.value?.data ?? null, errors: first.value?.errors });
  await results.return(); // sends complete
  await client.dispose(); // closes the socket (1000)
  const e = await within(10_000, 'ws close', closed);
  report({ transport: 'ws', event: 'closed', code: e.code });
}

// graphql-sse: subscribe, take the first result, complete.
async function sseFirst() {
  const client = createSSEClient({ url, headers: { Authorization: authorization }, retryAttempts: 0 });
  let unsubscribe;
  const first = new Promise((resolve, reject) => {
    unsubscribe = client.subscribe({ query, variables: { since } }, {
      next: resolve,
      error: reject,
      complete: () => reject(new Error('completed before any result')),
    }, { connected: () => report({ transport: 'sse', event: 'connected' }) });
  });
  const r = await within(60_000, 'sse result', first);
  report({ transport: 'sse', event: 'next', data: r?.data ?? null, errors: r?.errors });
  unsubscribe();
  client.dispose();
  report({ transport: 'sse', event: 'complete' });
}

const steps = [
  ['ws-refused', wsRefused],
  ['sse-refused', sseRefused],
  ['ws', wsFirst],
  ['sse', sseFirst],
];
await Promise.all(steps.map(([name, fn]) => fn().catch((err) => fail(name, err))));
report({ event: 'done' });
process.exit(0);
