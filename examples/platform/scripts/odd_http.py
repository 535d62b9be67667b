#!/usr/bin/env python3
"""Sends odd HTTP/1.1 requests, raw over TCP, to each platform binary given and prints
a Markdown table of the answers (status, and the problem code when there is one).

The table in docs/adapters.md ("Odd HTTP") was made with it:

    cargo build -p platform --bins
    python3 examples/platform/scripts/odd_http.py target/debug/platform \
        target/debug/platform-actix target/debug/platform-tower

Each binary starts in a fresh temporary directory (SQLite, generated secrets) on a free
port and is stopped afterwards. The rows every binary must answer alike are held by the
conformance scenario `odd_http_is_answered_alike`."""
import os, re, shutil, socket, subprocess, sys, tempfile
BINS=[os.path.abspath(b) for b in sys.argv[1:]]
def cases(secret):
    big="a"*70000
    return [
     ("no Host", b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"),
     ("no Host, admin", b"GET /api/v1/admin/keys HTTP/1.1\r\nConnection: close\r\n\r\n"),
     ("two Hosts", b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n"),
     ("two Hosts, admin", b"GET /api/v1/admin/keys HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n"),
     ("CL+TE", b"POST /api/v1/token HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n"),
     ("CL+TE healthz", b"GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n"),
     ("two CL", b"POST /api/v1/token HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"),
     ("raw UTF-8 path", "GET /api/v1/caf\u00e9 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode()),
     ("raw UTF-8 healthz", "GET /healthz\u00e9 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode()),
     ("9 KiB query", ("GET /healthz?q="+"a"*9216+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").encode()),
     ("70 KB path", ("GET /"+big+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").encode()),
     ("70 KB query", ("GET /healthz?q="+big+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").encode()),
     ("70 KB header", ("GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: "+big+"\r\nConnection: close\r\n\r\n").encode()),
     ("Expect no creds", b"POST /api/v1/token HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"),
     ("Expect healthz", b"GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"),
     ("HTTP/1.0 no Host", b"GET /healthz HTTP/1.0\r\n\r\n"),
     ("absolute URI", b"GET http://other.example/healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
     ("bad method", b"G@T /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
     ("obs-fold", b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\nConnection: close\r\n\r\n"),
    ]
def send(port, raw, expect_wait=False):
    s=socket.create_connection(("127.0.0.1",port)); s.settimeout(3)
    s.sendall(raw)
    out=b""
    try:
        while True:
            d=s.recv(65536)
            if not d: break
            out+=d
            if expect_wait and b"100 Continue" in out and out.count(b"HTTP/1.1")==1 and out.endswith(b"\r\n\r\n"):
                s.sendall(b"{}")
    except socket.timeout:
        out+=b" [timeout]"
    except ConnectionResetError:
        out+=b" [reset]"
    s.close()
    lines=out.split(b"\r\n")
    statuses=re.findall(rb"HTTP/1\.[01] (\d{3})", out)
    code=re.search(rb'"code":"([a-z_]+)"', out)
    return b"/".join(statuses).decode() or out[:40].decode(errors="replace"), (code.group(1).decode() if code else "")
results={}
for b in BINS:
    d=tempfile.mkdtemp()
    env=dict(os.environ, KEYGATE_ADDR="127.0.0.1:0", RUST_LOG="warn")
    for k in ["KEYGATE_DATABASE_URL","KEYGATE_REDIS_URL","KEYGATE_PEPPER","KEYGATE_ADMIN_SECRET","KEYGATE_REQUIRE_HTTPS","KEYGATE_TRUSTED_PROXIES"]: env.pop(k,None)
    p=subprocess.Popen([b],cwd=d,env=env,stdout=subprocess.PIPE,stderr=subprocess.DEVNULL,text=True)
    port=None;secret=None
    for line in p.stdout:
        if line.startswith("admin secret: "): secret=line.split(": ")[1].strip()
        m=re.match(r"listening on http://127.0.0.1:(\d+)",line)
        if m: port=int(m.group(1)); break
    for name,raw in cases(secret):
        results.setdefault(name,{})[os.path.basename(b)]=send(port,raw,expect_wait=b"Expect" in raw)
    p.terminate(); p.wait()
    shutil.rmtree(d, ignore_errors=True)
names=[os.path.basename(b) for b in BINS]
print("| request | "+" | ".join(names)+" |")
for k,v in results.items():
    print("| "+k+" | "+" | ".join(f"{v[n][0]} {v[n][1]}".strip() for n in names)+" |")
