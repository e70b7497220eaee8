// The TypeScript MCP SDK's own OAuth client, as an application would use it: a
// StreamableHTTPClientTransport with an authProvider (OAuthClientProvider), dynamic client
// registration, PKCE, and a loopback redirect listener on a port the system hands out.
//
// Usage: node ts-client.mjs MCP_SERVER_URL
//
// The "browser" is the test that runs this script: redirectToAuthorization prints
// `AUTHORIZE <url>` on stdout, the test signs in on the server's real login and consent pages and
// follows the final redirect to this script's listener. Then the script finishes the
// authorization, connects again (the SDK's documented pattern), lists the tools, calls `echo`, and
// prints `RESULT <json>`. Any failure prints `FAILED <message>` and exits 1; it gives up after
// DEADLINE_MS.

import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const DEADLINE_MS = 60_000;
const serverUrl = new URL(process.argv[2]);

const fail = (message) => {
  process.stdout.write(`FAILED ${message}\n`);
  process.exit(1);
};
setTimeout(() => fail(`no result within ${DEADLINE_MS} ms`), DEADLINE_MS).unref();

// The redirect listener: one authorization response, checked against the state we sent.
let expectedState;
let deliverCode;
const codeArrived = new Promise((resolve, reject) => {
  deliverCode = { resolve, reject };
});
const listener = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname !== '/callback') {
    res.writeHead(404).end();
    return;
  }
  const code = url.searchParams.get('code');
  const state = url.searchParams.get('state');
  const ok = code && state === expectedState;
  res.writeHead(ok ? 200 : 400, { 'content-type': 'text/plain' });
  res.end(ok ? 'Signed in; you may close this tab.' : 'Bad authorization response.');
  if (ok) deliverCode.resolve(code);
  else deliverCode.reject(new Error(`bad authorization response: ${url.search}`));
});
await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));
const redirectUrl = `http://127.0.0.1:${listener.address().port}/callback`;

/** An in-memory OAuthClientProvider, as the SDK's examples write one. */
class Provider {
  #client;
  #tokens;
  #verifier;
  registrations = 0;
  authorizations = 0;

  get redirectUrl() {
    return redirectUrl;
  }

  get clientMetadata() {
    return {
      client_name: 'TypeScript SDK interop test',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  state() {
    expectedState = randomBytes(16).toString('base64url');
    return expectedState;
  }

  clientInformation() {
    return this.#client;
  }

  saveClientInformation(info) {
    this.registrations += 1;
    this.#client = info;
  }

  tokens() {
    return this.#tokens;
  }

  saveTokens(tokens) {
    this.#tokens = tokens;
  }

  redirectToAuthorization(authorizationUrl) {
    this.authorizations += 1;
    process.stdout.write(`AUTHORIZE ${authorizationUrl.href}\n`);
  }

  saveCodeVerifier(verifier) {
    this.#verifier = verifier;
  }

  codeVerifier() {
    if (!this.#verifier) throw new Error('no code verifier saved');
    return this.#verifier;
  }
}

const provider = new Provider();
const newClient = () => new Client({ name: 'ts-sdk-interop', version: '1.0.0' });

try {
  // First connection: the server refuses `initialize` without a token, which starts OAuth.
  const first = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider });
  try {
    await newClient().connect(first);
    fail('initialize succeeded without a token: the server did not challenge it');
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
  }
  const code = await codeArrived;
  await first.finishAuth(code);

  // Second connection, with the tokens.
  const transport = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider });
  const client = newClient();
  await client.connect(transport);
  const tools = await client.listTools();
  const echo = await client.callTool({ name: 'echo', arguments: { message: 'hello from the TypeScript SDK' } });
  const result = {
    tools: tools.tools.map((t) => t.name),
    echo: echo.content?.[0]?.text,
    isError: echo.isError ?? false,
    registrations: provider.registrations,
    authorizations: provider.authorizations,
    scope: provider.tokens()?.scope,
  };
  await client.close();
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  listener.close();
  process.exit(0);
} catch (e) {
  fail(e?.stack ?? String(e));
}
