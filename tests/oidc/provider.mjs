// A real OpenID Connect provider (oidc-provider) for the SSO tests: one static confidential
// client, PKCE required, and a non-interactive login so a test completes the flow with plain
// HTTP requests (no browser).
//
//   node provider.mjs [port]
//
// Environment:
//   OIDC_PORT              port (when not given as the first argument)
//   OIDC_ISSUER            issuer (default http://127.0.0.1:<port>)
//   OIDC_CLIENT_ID         client_id of the static client
//   OIDC_CLIENT_SECRET     its secret (client_secret_basic or client_secret_post)
//   OIDC_REDIRECT_URIS     its redirect URIs, comma-separated
//   OIDC_HIDE_SIGNING_KEY  "1": the JWKS endpoint publishes a decoy key instead of the key that
//                          signs ID tokens (tests an unknown signing key)
//
// Login: the authorization request's `login_hint` names the account; the provider logs it in
// and grants the requested scopes without any page. Accounts: `verified-user` (e-mail verified)
// and `unverified-user` (not verified), plus any a test adds with
//   POST /test/accounts {"sub": "...", "email": "...", "email_verified": true, "name": "..."}

import { generateKeyPairSync, randomBytes } from 'node:crypto';

import { Provider } from 'oidc-provider';

const port = Number(process.argv[2] || process.env.OIDC_PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node provider.mjs <port> (or OIDC_PORT)');
  process.exit(2);
}
const issuer = process.env.OIDC_ISSUER || `http://127.0.0.1:${port}`;
const clientId = process.env.OIDC_CLIENT_ID || 'adx-test';
const clientSecret = process.env.OIDC_CLIENT_SECRET || 'adx-test-secret';
const redirectUris = (process.env.OIDC_REDIRECT_URIS || '').split(',').filter(Boolean);
const hideSigningKey = process.env.OIDC_HIDE_SIGNING_KEY === '1';

function rsaJwk(kid) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
}

function publicPart({ kty, n, e, kid, use, alg }) {
  return { kty, n, e, kid, use, alg };
}

// Fresh keys per start: nothing secret is committed, and two instances never share a key.
const signingKey = rsaJwk(`sig-${randomBytes(6).toString('hex')}`);
const decoyKey = rsaJwk(`decoy-${randomBytes(6).toString('hex')}`);

const accounts = new Map([
  ['verified-user', { email: 'verified-user@example.com', email_verified: true, name: 'Vera Verified' }],
  ['unverified-user', { email: 'unverified-user@example.com', email_verified: false, name: 'Uma Unverified' }],
]);

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [signingKey] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  ttl: { AuthorizationCode: 60, AccessToken: 300, IdToken: 300, Interaction: 300, Session: 600, Grant: 600 },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, sub) {
    const account = accounts.get(sub);
    if (!account) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...account }) };
  },
  // The test client is first-party: grant what it asks for without a consent page.
  async loadExistingGrant(ctx) {
    const { client, session, params } = ctx.oidc;
    const existing = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
    if (existing) return ctx.oidc.provider.Grant.find(existing);
    const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
    grant.addOIDCScope(String(params.scope || 'openid'));
    await grant.save();
    return grant;
  },
});

async function readJson(ctx) {
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return ctx.throw(400, 'body must be JSON');
  }
}

provider.use(async (ctx, next) => {
  // Non-interactive login: the account named by login_hint signs in.
  const interaction = ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (interaction && ctx.method === 'GET') {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const hint = details.params.login_hint;
    if (details.prompt.name !== 'login' || !accounts.has(hint)) {
      const result = { error: 'access_denied', error_description: `no test account "${hint}"` };
      ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, result));
      return;
    }
    const result = { login: { accountId: hint } };
    ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false }));
    return;
  }
  if (ctx.path === '/test/accounts' && ctx.method === 'POST') {
    const { sub, ...claims } = await readJson(ctx);
    if (typeof sub !== 'string' || !sub) ctx.throw(400, 'sub is required');
    accounts.set(sub, claims);
    ctx.status = 204;
    return;
  }
  await next();
  if (hideSigningKey && ctx.path === '/jwks' && ctx.status === 200) {
    ctx.body = { keys: [publicPart(decoyKey)] };
  }
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider ${issuer} listening on 127.0.0.1:${port}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
