// A stand-in for AWS's federation endpoint, so a demo portal without the internet can make
// console sign-in URLs (scripts/screenshots.sh). It prints its URL, then serves until killed:
// getSigninToken answers a made-up token, and the login URL shows a placeholder page.

import http from 'node:http';

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  const action = url.searchParams.get('Action');
  if (url.pathname === '/federation' && action === 'getSigninToken') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ SigninToken: 'demo-signin-token' }));
  } else if (url.pathname === '/federation' && action === 'login') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>AWS console</title><h1>The AWS console would open here</h1>');
  } else {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end('bad federation request\n');
  }
});
server.listen(0, '127.0.0.1', () => {
  console.log(`http://127.0.0.1:${server.address().port}/federation`);
});
