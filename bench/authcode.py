#!/usr/bin/env python3
"""Drives the whole authorization-code + PKCE flow against our server, as a browser would.

One flow = GET /authorize (login page, session cookie) -> POST the login form (demo/demo) -> POST the
consent form (Allow) -> 303 to the redirect URI with `code` -> POST /token (authorization_code with the
PKCE verifier). Each worker thread keeps one keep-alive connection and a fresh cookie jar per flow.
Usage: authcode.py BASE_URL RESOURCE SECONDS WORKERS. Prints one `FLOW ...` summary line.
Python is the client here (GIL-bound); run.sh pins it to the load generator's core. The server's
per-flow cost is dominated by Argon2id at login, far above what this driver can issue.
"""
import base64, hashlib, html, http.client, os, re, secrets, sys, threading, time, urllib.parse

base, resource, seconds, workers = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
u = urllib.parse.urlsplit(base)
CLIENT, REDIRECT = "demo-client", "http://127.0.0.1:9999/callback"
FORM = re.compile(r'<form method="post" action="([^"]*)">(.*?)</form>', re.S)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')

lat, errors, lock = [], [], threading.Lock()
deadline = time.monotonic() + seconds


def one_flow(conn):
    cookies = {}

    def req(method, path, body=None):
        h = {"Connection": "keep-alive"}
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
            raise RuntimeError("no form in page: " + page[:200])
        fields = {k: html.unescape(v) for k, v in HIDDEN.findall(m.group(2))}
        fields.update(extra)
        return html.unescape(m.group(1)), fields

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(12)
    q = urllib.parse.urlencode({
        "response_type": "code", "client_id": CLIENT, "redirect_uri": REDIRECT, "scope": "mcp:tools",
        "resource": resource, "state": state, "code_challenge": challenge, "code_challenge_method": "S256"})
    s, _, page = req("GET", "/authorize?" + q)
    if s != 200:
        raise RuntimeError(f"authorize {s}: {page[:200]}")
    action, fields = form(page, {"username": "demo", "password": "demo", "login": "1"})
    s, h, page = req("POST", action, fields)
    if s in (302, 303):  # consent already given: straight to the redirect URI
        loc = h["Location"]
    else:
        if s != 200:
            raise RuntimeError(f"login {s}: {page[:200]}")
        action, fields = form(page, {"approve": "1"})
        s, h, page = req("POST", action, fields)
        if s not in (302, 303):
            raise RuntimeError(f"consent {s}: {page[:200]}")
        loc = h["Location"]
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)["code"][0]
    s, _, body = req("POST", "/token", {
        "grant_type": "authorization_code", "client_id": CLIENT, "redirect_uri": REDIRECT,
        "resource": resource, "code_verifier": verifier, "code": code})
    if s != 200 or "access_token" not in body:
        raise RuntimeError(f"token {s}: {body[:200]}")


def worker():
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        try:
            one_flow(conn)
            with lock:
                lat.append(time.monotonic() - t0)
        except Exception as e:  # noqa: BLE001 - a failed flow is counted, the run goes on
            with lock:
                errors.append(str(e))
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)


start = time.monotonic()
threads = [threading.Thread(target=worker) for _ in range(workers)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.monotonic() - start
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1e6 if lat else 0
print(f"FLOW requests={len(lat)} duration_us={int(elapsed * 1e6)} status_errors={len(errors)} "
      f"p50_us={int(pct(50))} p99_us={int(pct(99))}")
if errors:
    print("first error:", errors[0], file=sys.stderr)
