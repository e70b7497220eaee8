// A live OpenID provider for the federated-login tests: node-oidc-provider with its own
// development login and consent pages (any login, any password), one confidential client (our
// authorization server), PKCE, RFC 9207 `iss` in authorization responses, refresh tokens
// (offline_access) and RFC 7009 revocation.
//
// Prints `idp refresh granted` or `idp refresh refused` for each refresh at its token endpoint.
//
// Settings (environment): IDP_CLIENT_ID, IDP_CLIENT_SECRET, IDP_REDIRECT_URIS (comma-separated:
// our server's callbacks), IDP_TOKEN_DELAY_MS (its token endpoint answers that much later),
// IDP_CLAIMS (below). Binds 127.0.0.1:0 first, then mounts the provider with the real issuer
// and prints `idp listening on URL`.
//
// Accounts: the login typed on the login page is the subject. Its e-mail is `LOGIN@corp.example`
// and verified, except for a login `unverified-NAME`, whose e-mail `NAME@corp.example` is not.
// Claims follow OpenID Connect Core §5.4 to the letter (conformIdTokenClaims): with an access
// token issued, `email` and `profile` claims are at the userinfo endpoint, not in the ID token.
//
// IDP_CLAIMS=cognito makes it speak like an AWS Cognito user pool: its ID tokens carry
// `token_use: "id"` and `cognito:username` (`cog-LOGIN`), and `email_verified` is the string
// Cognito sends ("true"/"false"), so that the `cognito` preset's real path runs end to end.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const CLIENT_ID = process.env.IDP_CLIENT_ID ?? 'mcp-oauth';
const CLIENT_SECRET = process.env.IDP_CLIENT_SECRET ?? 'upstream-secret-0123456789abcdef';
const REDIRECT_URIS = (process.env.IDP_REDIRECT_URIS ?? '').split(',').filter(Boolean);
const COGNITO = process.env.IDP_CLAIMS === 'cognito';
const TOKEN_DELAY_MS = Number(process.env.IDP_TOKEN_DELAY_MS ?? 0);

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'idp-es256', alg: 'ES256', use: 'sig' };

function account(id) {
  const unverified = id.startsWith('unverified-');
  const name = unverified ? id.slice('unverified-'.length) : id;
  return {
    accountId: id,
    async claims() {
      const claims = {
        sub: id,
        email: `${name}@corp.example`,
        email_verified: !unverified,
        name: `Test ${name}`,
        preferred_username: name,
      };
      if (COGNITO) {
        claims.token_use = 'id';
        claims['cognito:username'] = `cog-${name}`;
        claims.email_verified = String(!unverified);
      }
      return claims;
    },
  };
}

const make = (issuer) => new Provider(issuer, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: REDIRECT_URIS,
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
  }],
  jwks: { keys: [jwk] },
  findAccount: (_ctx, id) => account(id),
  claims: {
    // Claims of the `openid` scope are in every ID token (Cognito's own are, at Cognito).
    openid: COGNITO ? ['sub', 'token_use', 'cognito:username'] : ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
  },
  scopes: ['openid', 'email', 'profile', 'offline_access'],
  pkce: { required: () => true },
  // Refresh tokens for offline_access whether or not the consent prompt ran this time.
  issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token')
    && code.scopes.has('offline_access'),
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
  },
});

let handler = (_req, res) => { res.statusCode = 503; res.end(); };
const server = createServer((req, res) => handler(req, res));
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = make(issuer);
  provider.proxy = false;
  // A slow token endpoint, so that concurrent refreshes overlap in the tests.
  if (TOKEN_DELAY_MS > 0) {
    provider.use(async (ctx, next) => {
      if (ctx.path === '/token') await new Promise((r) => setTimeout(r, TOKEN_DELAY_MS));
      await next();
    });
  }
  // Each refresh at the token endpoint, granted or refused, for the tests to count.
  for (const [event, outcome] of [['grant.success', 'granted'], ['grant.error', 'refused']]) {
    provider.on(event, (ctx) => {
      if (ctx.oidc?.params?.grant_type === 'refresh_token') console.log(`idp refresh ${outcome}`);
    });
  }
  handler = provider.callback();
  console.log(`idp listening on ${issuer}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)) && setTimeout(() => process.exit(0), 1000).unref());
