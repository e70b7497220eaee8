#!/usr/bin/env python3
"""Signs in to our server once and gives consent once, as a browser would, and prints the session's
Cookie header value: with it, `GET /authorize` for the same client, resource and scope answers with a
code at once (no page, no password check), which is how bench-load mints the codes of the redemption
and rotation scenarios without Argon2id in their figures.

Usage: session.py BASE_URL RESOURCE. The same pages as authcode.py: GET /authorize -> login form
(demo/demo) -> consent form (Allow) -> 303 with a code (not redeemed).
"""
import base64, hashlib, html, http.client, re, secrets, sys, urllib.parse

base, resource = sys.argv[1], sys.argv[2]
u = urllib.parse.urlsplit(base)
CLIENT, REDIRECT = "demo-client", "http://127.0.0.1:9999/callback"
FORM = re.compile(r'<form method="post" action="([^"]*)">(.*?)</form>', re.S)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
cookies = {}


def req(method, path, body=None):
    h = {}
    if cookies:
        h["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    if body is not None:
        h["Content-Type"] = "application/x-www-form-urlencoded"
        h["Origin"] = base
        body = urllib.parse.urlencode(body)
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read().decode("utf-8", "replace")
    for v in r.headers.get_all("Set-Cookie") or []:
        k, _, rest = v.partition("=")
        cookies[k.strip()] = rest.split(";", 1)[0]
    return r.status, r.headers, data


def form(page, extra):
    m = FORM.search(page)
    if not m:
        sys.exit("no form in page: " + page[:200])
    fields = {k: html.unescape(v) for k, v in HIDDEN.findall(m.group(2))}
    fields.update(extra)
    return html.unescape(m.group(1)), fields


verifier = secrets.token_urlsafe(48)
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
q = urllib.parse.urlencode({
    "response_type": "code", "client_id": CLIENT, "redirect_uri": REDIRECT, "scope": "mcp:tools",
    "resource": resource, "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"})
s, _, page = req("GET", "/authorize?" + q)
if s != 200:
    sys.exit(f"authorize {s}: {page[:200]}")
action, fields = form(page, {"username": "demo", "password": "demo", "login": "1"})
s, h, page = req("POST", action, fields)
if s not in (302, 303):
    if s != 200:
        sys.exit(f"login {s}: {page[:200]}")
    action, fields = form(page, {"approve": "1"})
    s, h, page = req("POST", action, fields)
    if s not in (302, 303) or "code=" not in h["Location"]:
        sys.exit(f"consent {s}: {page[:200]}")
# The consent is remembered: the next /authorize must redirect with a code straight away.
s, h, page = req("GET", "/authorize?" + q)
if s not in (302, 303) or "code=" not in (h["Location"] or ""):
    sys.exit(f"the signed-in /authorize did not answer with a code: {s} {page[:200]}")
print("; ".join(f"{k}={v}" for k, v in cookies.items()))
