// A real OpenID Connect provider (the npm `oidc-provider`) for the portal's single sign-on
// tests. In memory only: clients, users, sessions and keys go with the process.
//
// Start:
//   node tests/web/oidc-provider.mjs
// Settings, all optional, from the environment:
//   OIDC_PORT           port on 127.0.0.1 (default 0: a free one)
//   OIDC_CLIENT_ID      default "jit-portal"
//   OIDC_CLIENT_SECRET  default "jit-portal-secret"
//   OIDC_REDIRECT_URI   the portal's callback, e.g. http://127.0.0.1:8480/login/oidc/callback
//                       (required; several may be given, separated by spaces)
//   OIDC_TLS_CERT, OIDC_TLS_KEY  PEM files: serve HTTPS (the issuer is then https://...)
//   OIDC_USERS          JSON: {"alice": {"password": "pw", "email": "alice@example.com",
//                       "preferred_username": "alice"}, ...}; the key is the login name and `sub`.
//                       Default: alice, bob and mallory, each with password "pw", email
//                       NAME@example.com (verified) and preferred_username NAME. A user's
//                       "amr" (a list, e.g. ["pwd", "mfa"]) is how its sign-ins here say they
//                       were made: the `amr` claim of its id tokens (RFC 8176), no other claim.
// When ready it prints one line on stdout, the issuer URL: http(s)://127.0.0.1:PORT
// It stops on SIGTERM/SIGINT, or when its stdin is a pipe and closes.
//
// The pages a browser sees (no JavaScript):
//   Sign-in, GET /interaction/UID: <form id="login" method="post" action="/interaction/UID/login">
//     with inputs name="login" and name="password" and <button id="sign-in" type="submit">;
//     a link <a id="cancel" href="/interaction/UID/abort"> ends the login with access_denied.
//     A wrong password shows the form again with <p id="error">.
//   Consent, GET /interaction/UID: <form id="consent" method="post"
//     action="/interaction/UID/confirm"> with <button id="allow" type="submit">; the link
//     <a id="deny" href="/interaction/UID/abort"> ends it with access_denied.
//   A browser that signed in here before (the provider's session cookie) skips both pages.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { fstatSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import Provider from 'oidc-provider';

const env = process.env;
const clientId = env.OIDC_CLIENT_ID || 'jit-portal';
const clientSecret = env.OIDC_CLIENT_SECRET || 'jit-portal-secret';
const redirectUris = (env.OIDC_REDIRECT_URI || '').split(/\s+/).filter(Boolean);
if (redirectUris.length === 0) {
  console.error('oidc-provider: set OIDC_REDIRECT_URI to the portal callback');
  process.exit(2);
}
const users = env.OIDC_USERS ? JSON.parse(env.OIDC_USERS) : {
  alice: { password: 'pw', email: 'alice@example.com', preferred_username: 'alice' },
  bob: { password: 'pw', email: 'bob@example.com', preferred_username: 'bob' },
  mallory: { password: 'pw', email: 'mallory@example.com', preferred_username: 'mallory' },
};

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head>`
    + `<body><h1>${escape(title)}</h1>${body}</body></html>`;
}

function loginForm(uid, error) {
  return page('Sign in to the test provider', `${error ? `<p id="error">${escape(error)}</p>` : ''}
<form id="login" method="post" action="/interaction/${escape(uid)}/login">
<label>Login <input name="login" autocomplete="username" autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button id="sign-in" type="submit">Sign in</button>
</form>
<p><a id="cancel" href="/interaction/${escape(uid)}/abort">Cancel</a></p>`);
}

function consentForm(uid, client) {
  return page('Allow access', `<p>${escape(client)} wants to know who you are.</p>
<form id="consent" method="post" action="/interaction/${escape(uid)}/confirm">
<button id="allow" type="submit">Allow</button>
</form>
<p><a id="deny" href="/interaction/${escape(uid)}/abort">Deny</a></p>`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 16384) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

// A parent that stopped reading our stdout must not bring us down.
process.stdout.on('error', () => {});

const tls = env.OIDC_TLS_CERT && env.OIDC_TLS_KEY;
const server = tls
  ? createHttpsServer({ cert: readFileSync(env.OIDC_TLS_CERT), key: readFileSync(env.OIDC_TLS_KEY) })
  : createServer();
server.listen(Number(env.OIDC_PORT || 0), '127.0.0.1', () => {
  const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${server.address().port}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' };

  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: {
      // `amr` rides on the openid scope, so every id token carries the login's.
      openid: ['sub', 'amr'],
      email: ['email', 'email_verified'],
      // `groups` only for users given some (OIDC_USERS): eligibility and approval by group.
      profile: ['preferred_username', 'name', 'groups'],
    },
    // Claims in the id token itself, not only from userinfo.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, id) {
      const user = users[id];
      if (!user) return undefined;
      return {
        accountId: id,
        async claims() {
          const { password, amr, ...claims } = user;
          return { email_verified: true, ...claims, sub: id };
        },
      };
    },
  });
  const handler = provider.callback();

  server.on('request', async (req, res) => {
    const url = new URL(req.url, issuer);
    const m = url.pathname.match(/^\/interaction\/([^/]+)(?:\/(login|confirm|abort))?$/);
    if (!m) {
      handler(req, res);
      return;
    }
    const send = (status, html) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(html);
    };
    try {
      const details = await provider.interactionDetails(req, res);
      const [, uid, action] = m;
      if (!action && req.method === 'GET') {
        if (details.prompt.name === 'login') return send(200, loginForm(uid));
        return send(200, consentForm(uid, details.params.client_id));
      }
      if (action === 'abort') {
        await provider.interactionFinished(req, res, {
          error: 'access_denied',
          error_description: 'End-User aborted interaction',
        }, { mergeWithLastSubmission: false });
        return undefined;
      }
      if (req.method !== 'POST') return send(405, page('Method not allowed', ''));
      const form = await readForm(req);
      if (action === 'login') {
        const login = form.get('login') || '';
        const user = Object.hasOwn(users, login) ? users[login] : undefined;
        if (!user || user.password !== form.get('password')) {
          return send(200, loginForm(uid, 'Wrong login or password.'));
        }
        const amr = Array.isArray(user.amr) ? user.amr : undefined;
        await provider.interactionFinished(req, res, { login: { accountId: login, amr } }, {
          mergeWithLastSubmission: false,
        });
        return undefined;
      }
      // confirm: grant what the client asked for.
      const { prompt: { details: missing }, params, session } = details;
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { consent: { grantId } }, {
        mergeWithLastSubmission: true,
      });
      return undefined;
    } catch (err) {
      return send(400, page('Test provider error', `<p id="error">${escape(err.message)}</p>`));
    }
  });

  process.stdout.write(`${issuer}\n`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// A parent that holds our stdin as a pipe stops us by closing it, however it exits.
if (fstatSync(0, { throwIfNoEntry: false })?.isFIFO()) {
  process.stdin.on('end', stop);
  process.stdin.resume();
}
