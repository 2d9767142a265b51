#!/usr/bin/env python3
"""Soak runs (bench/soak.sh runs this; results go in RELIABILITY.md, never in a timed test).

  soak.py gateway SIGNET_BIN SECONDS RATE   the gateway at a fixed request rate, keys rolled
                                            every minute (key_roll_interval_seconds = 60),
                                            SIGHUP every 30 s, a backend that is down 5 s of
                                            every 60, and 20 slow clients dribbling headers
  soak.py authz SIGNET_BIN SECONDS RATE     signet authz creating flows at a fixed rate, each
                                            signed on and redeemed for tokens

Both sample the server's RSS (VmRSS) every second and print one JSON object: requests, errors
by kind, latency p50/p99, RSS at start / after warm-up / peak / end, and whether the server
crashed. The gateway's backend verifies every mapped JWT (ES256, with the JWKS it fetches from
the gateway, refetched on an unknown kid) and answers what it found, so verification failures
are counted by the load generator. A 502/504 is attributed to a flap when it happens while the
backend is down or within 2 s of it coming back; any other 5xx is an error.

Only loopback traffic; everything stops after SECONDS (plus a few for shutdown).
"""

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

WARMUP = 120  # seconds before the "after warm-up" RSS sample (the stores fill by then)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Stats:
    def __init__(self):
        self.requests = 0
        self.ok = 0
        self.errors = {}
        self.latencies = []
        self.kids = set()
        self.started = time.monotonic()
        # The first and last second (from the start) each kind of error was seen at.
        self.error_seconds = {}

    def error(self, kind):
        self.errors[kind] = self.errors.get(kind, 0) + 1
        at = round(time.monotonic() - self.started, 1)
        first, _ = self.error_seconds.get(kind, (at, at))
        self.error_seconds[kind] = (first, at)

    def summary(self):
        lat = sorted(self.latencies)

        def pct(p):
            return round(lat[min(len(lat) - 1, int(len(lat) * p))] * 1000, 2) if lat else None

        return {
            "requests": self.requests,
            "ok": self.ok,
            "errors": dict(sorted(self.errors.items())),
            "errors_first_last_s": dict(sorted(self.error_seconds.items())),
            "latency_ms": {"p50": pct(0.50), "p99": pct(0.99), "max": pct(1.0)},
        }


async def http(reader, writer, method, target, headers, body=b""):
    """One HTTP/1.1 exchange on a keep-alive connection: (status, headers, body)."""
    lines = [f"{method} {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *fields = head.decode("latin-1").split("\r\n")
    status = int(status_line.split()[1])
    h = {}
    for f in fields:
        if ":" in f:
            k, v = f.split(":", 1)
            h[k.strip().lower()] = v.strip()
    if h.get("transfer-encoding", "").lower() == "chunked":
        data = b""
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b""):
                    pass
                break
            data += await reader.readexactly(size)
            await reader.readline()
    else:
        data = await reader.readexactly(int(h.get("content-length", "0")))
    return status, h, data


class Pool:
    """Keep-alive connections to one address, opened as needed."""

    def __init__(self, port):
        self.port = port
        self.idle = []
        # Requests sent again because an idle keep-alive connection had been closed by the
        # server when the request went out (no byte of a response came back): HTTP clients
        # retry those (RFC 9112 §9.3.1); the retry's outcome is what is counted.
        self.stale_retries = 0

    async def request(self, method, target, headers, body=b""):
        reused = bool(self.idle)
        idle_since = time.monotonic()
        if reused:
            conn, idle_since = self.idle.pop()
        else:
            conn = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            result = await http(*conn, method, target, headers, body)
        except (asyncio.IncompleteReadError, ConnectionResetError) as e:
            conn[1].close()
            nothing = not isinstance(e, asyncio.IncompleteReadError) or not e.partial
            if not (reused and nothing):
                raise
            self.stale_retries += 1
            print(f"retried a request on a keep-alive connection idle "
                  f"{time.monotonic() - idle_since:.1f} s that the server had closed", file=sys.stderr)
            conn = await asyncio.open_connection("127.0.0.1", self.port)
            try:
                result = await http(*conn, method, target, headers, body)
            except BaseException:
                conn[1].close()
                raise
        except BaseException:
            conn[1].close()
            raise
        if result[1].get("connection", "").lower() == "close":
            conn[1].close()
        else:
            self.idle.append((conn, time.monotonic()))
        return result


async def sample_rss(pid, seconds, out):
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        out.append((round(time.monotonic() - start), rss_kb(pid)))
        await asyncio.sleep(1)


def rss_summary(samples):
    values = [v for _, v in samples if v is not None]
    after = [v for t, v in samples if t >= WARMUP and v is not None]
    if not values:
        return {}
    return {
        "every_60_s_kb": [v for t, v in samples if t % 60 == 0 and v is not None],
        "start_kb": values[0],
        "after_warmup_kb": after[0] if after else None,
        "peak_kb": max(values),
        "end_kb": values[-1],
        "end_vs_warmup": round(values[-1] / after[0], 3) if after else None,
    }


async def fixed_rate(seconds, rate, one):
    """Starts `one()` `rate` times a second for `seconds`, then waits for those in flight."""
    tasks = set()
    start = time.monotonic()
    n = 0
    while True:
        due = start + n / rate
        now = time.monotonic()
        if now - start >= seconds:
            break
        if due > now:
            await asyncio.sleep(due - now)
        t = asyncio.create_task(one())
        tasks.add(t)
        t.add_done_callback(tasks.discard)
        n += 1
    if tasks:
        await asyncio.wait(tasks, timeout=15)


def signet(binary, *args, env=None):
    return subprocess.run([binary, *args], check=True, capture_output=True, text=True, env=env).stdout


# --- the gateway's backend: verifies every mapped JWT ---

def backend(port, gateway_port):
    import jwt  # PyJWT

    keys = {}

    def refresh():
        import urllib.request
        with urllib.request.urlopen(f"http://127.0.0.1:{gateway_port}/pa/authtoken/JWKS", timeout=5) as r:
            doc = json.load(r)
        keys.clear()
        for k in doc["keys"]:
            keys[k["kid"]] = jwt.PyJWK(k)

    def verify(token):
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            if kid not in keys:
                refresh()
            claims = jwt.decode(token, keys[kid].key, algorithms=["ES256"], audience="orders-api",
                                issuer="signet-gateway", leeway=5)
            return f"verified {kid} {claims['sub']}"
        except Exception as e:  # noqa: BLE001 - every failure is reported to the client
            return f"FAILED {type(e).__name__}: {e}"

    async def serve(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                token = ""
                for line in head.decode("latin-1").split("\r\n"):
                    if line.lower().startswith("x-identity-jwt:"):
                        token = line.split(":", 1)[1].strip()
                body = verify(token).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\n\r\n" + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main():
        server = await asyncio.start_server(serve, "127.0.0.1", port, reuse_address=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


async def soak_gateway(binary, seconds, rate):
    work = tempfile.mkdtemp(prefix="signet-soak-")
    key = signet(binary, "keys", "generate", "--alg", "ES256")
    open(f"{work}/idp-key.json", "w").write(key)
    public = json.loads(signet(binary, "keys", "public", f"{work}/idp-key.json"))
    json.dump({"keys": [public]}, open(f"{work}/idp-jwks.json", "w"))
    token = signet(binary, "sign", "--key", f"{work}/idp-key.json", "--iss", "https://idp.example",
                   "--aud", "gateway", "--sub", "user-42", "--expires-in", "2h",
                   "-c", "email=alice@example.com").strip()
    gw_port, be_port = free_port(), free_port()
    open(f"{work}/gateway.toml", "w").write(f"""
[listen]
http = "127.0.0.1:{gw_port}"
[auth_token]
issuer = "signet-gateway"
signing_algorithm = "ES256"
key_roll_interval_seconds = 60
keyset_file = "gateway-keys.json"
[api_session]
issuer = "https://idp.example"
jwks = "idp-jwks.json"
audience = "gateway"
[[identity_mapping]]
name = "backend-jwt"
header_name = "X-Identity-JWT"
audience = "orders-api"
cache_jwt = true
lifetime_seconds = 30
attribute_mappings = [
  {{ user_attribute_name = "sub", jwt_claim_name = "sub", subject = true }},
  {{ user_attribute_name = "email", jwt_claim_name = "email" }},
]
[[application]]
name = "orders"
context_root = "/api"
backend = "http://127.0.0.1:{be_port}"
session = "api"
identity_mapping = "backend-jwt"
""")
    gw = subprocess.Popen([binary, "gateway", "--config", f"{work}/gateway.toml"], cwd=work,
                          stdout=subprocess.DEVNULL, stderr=open(f"{work}/gateway.log", "w"))

    def start_backend():
        return subprocess.Popen([sys.executable, __file__, "backend", str(be_port), str(gw_port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    be = start_backend()
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", gw_port), timeout=1).close()
            socket.create_connection(("127.0.0.1", be_port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)

    stats = Stats()
    down = []  # (start, end) seconds since t0 of backend outages
    outage = [None]  # the start of the outage under way, until it is in `down`
    t0 = time.monotonic()
    pool = Pool(gw_port)
    headers = {"Host": "gw.example", "Authorization": f"Bearer {token}"}
    slow = {"opened": 0, "closed_by_server": 0, "max_held_s": 0.0}
    hups = [0]
    stop = asyncio.Event()

    async def one():
        stats.requests += 1
        started = time.monotonic()
        try:
            status, _, body = await asyncio.wait_for(pool.request("GET", "/api/orders", headers), 10)
        except asyncio.TimeoutError:
            stats.error("timeout")
            return
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as e:
            at = round(started - t0, 1)
            flap = any(s - 1 <= at <= e2 + 2 for s, e2 in down) or outage[0] is not None
            stats.error(f"connection_{type(e).__name__}{'_during_flap' if flap else ''}")
            print(f"connection error at {at}s: {type(e).__name__}: {e}", file=sys.stderr)
            return
        stats.latencies.append(time.monotonic() - started)
        text = body.decode(errors="replace")
        if status == 200 and text.startswith("verified "):
            stats.ok += 1
            stats.kids.add(text.split()[1])
        elif status == 200:
            stats.error("verification_failed")
            print("verification failure:", text, file=sys.stderr)
        elif status in (502, 504):
            at = started - t0
            flap = any(s - 1 <= at <= e + 2 for s, e in down) or (
                outage[0] is not None and at >= outage[0] - 1)
            stats.error(f"{status}_{'during_flap' if flap else 'NOT_a_flap'}")
        else:
            stats.error(f"status_{status}")

    async def slow_client():
        while not stop.is_set():
            try:
                r, w = await asyncio.open_connection("127.0.0.1", gw_port)
            except OSError:
                await asyncio.sleep(1)
                continue
            slow["opened"] += 1
            opened = time.monotonic()
            try:
                w.write(b"GET /api/orders HTTP/1.1\r\nHost: gw.example\r\n")
                await w.drain()
                while not stop.is_set():
                    w.write(b"X")
                    await w.drain()
                    try:
                        # Anything back (a 408, or the end of the connection): the server ended it.
                        await asyncio.wait_for(r.read(1024), 2)
                        slow["closed_by_server"] += 1
                        break
                    except asyncio.TimeoutError:
                        pass
            except (ConnectionError, OSError):
                slow["closed_by_server"] += 1
            slow["max_held_s"] = max(slow["max_held_s"], round(time.monotonic() - opened, 1))
            w.close()

    async def chaos():
        nonlocal be
        last_hup = last_flap = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(0.5)
            now = time.monotonic()
            if now - last_hup >= 30:
                gw.send_signal(signal.SIGHUP)
                hups[0] += 1
                last_hup = now
            if now - last_flap >= 60:
                last_flap = now
                start = now - t0
                outage[0] = start
                be.kill()
                be.wait()
                await asyncio.sleep(5)
                be = start_backend()
                for _ in range(50):
                    try:
                        socket.create_connection(("127.0.0.1", be_port), timeout=1).close()
                        break
                    except OSError:
                        await asyncio.sleep(0.1)
                down.append((start, time.monotonic() - t0))
                outage[0] = None

    rss = []
    sampler = asyncio.create_task(sample_rss(gw.pid, seconds, rss))
    chaos_task = asyncio.create_task(chaos())
    slows = [asyncio.create_task(slow_client()) for _ in range(20)]
    await fixed_rate(seconds, rate, one)
    stop.set()
    await sampler
    for t in slows + [chaos_task]:
        t.cancel()
    crashed = gw.poll() is not None
    gw.send_signal(signal.SIGTERM)
    try:
        gw.wait(timeout=40)
    except subprocess.TimeoutExpired:
        gw.kill()
    be.kill()
    out = stats.summary()
    out.update({
        "server": "signet gateway", "seconds": seconds, "rate_per_s": rate,
        "crashed": crashed, "exit_code_after_sigterm": gw.returncode,
        "key_ids_seen": len(stats.kids), "backend_outages": len(down),
        "sighup_reloads": hups[0], "slow_clients": slow, "rss": rss_summary(rss),
        "stale_keepalive_retries": pool.stale_retries,
    })
    return out


async def soak_authz(binary, seconds, rate):
    work = tempfile.mkdtemp(prefix="signet-soak-authz-")
    secret = "soak-secret-long-enough-for-hs256-0123456789"
    open(f"{work}/authz.toml", "w").write(f"""
flow_idle_timeout_seconds = 60
code_lifetime_seconds = 60
max_refresh_tokens = 2000
[[environment]]
id = "env-1"
[[environment.application]]
client_id = "app-1"
client_secret = "{secret}"
redirect_uris = ["https://app.example/cb"]
grant_types = ["AUTHORIZATION_CODE", "REFRESH_TOKEN"]
[[environment.user]]
id = "user-1"
username = "miles"
password = "Kind-of-Blue"
""")
    proc = subprocess.Popen([binary, "authz", "--config", f"{work}/authz.toml", "--listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=open(f"{work}/authz.log", "w"), text=True)
    line = proc.stdout.readline()
    port = int(line.rsplit(":", 1)[1])
    stats = Stats()
    pool = Pool(port)
    basic = base64.b64encode(f"app-1:{secret}".encode()).decode()

    async def one():
        stats.requests += 1
        started = time.monotonic()
        try:
            status, _, body = await asyncio.wait_for(pool.request(
                "GET", "/env-1/as/authorize?client_id=app-1&response_type=code&response_mode=pi.flow&scope=openid",
                {"Host": "authz"}), 10)
            if status != 200:
                stats.error(f"authorize_{status}")
                return
            flow = json.loads(body)["id"]
            status, _, body = await asyncio.wait_for(pool.request(
                "POST", f"/env-1/flows/{flow}",
                {"Host": "authz", "Content-Type": "application/vnd.pingidentity.usernamePassword.check+json"},
                json.dumps({"username": "miles", "password": "Kind-of-Blue"}).encode()), 10)
            if status != 200:
                stats.error(f"flow_{status}")
                return
            code = json.loads(body)["authorizeResponse"]["code"]
            status, _, body = await asyncio.wait_for(pool.request(
                "POST", "/env-1/as/token",
                {"Host": "authz", "Content-Type": "application/x-www-form-urlencoded",
                 "Authorization": f"Basic {basic}"},
                f"grant_type=authorization_code&code={code}".encode()), 10)
            if status != 200 or "id_token" not in json.loads(body):
                stats.error(f"token_{status}")
                return
        except asyncio.TimeoutError:
            stats.error("timeout")
            return
        except (ConnectionError, asyncio.IncompleteReadError, OSError, ValueError, KeyError):
            stats.error("connection_or_body")
            return
        stats.latencies.append(time.monotonic() - started)
        stats.ok += 1

    rss = []
    sampler = asyncio.create_task(sample_rss(proc.pid, seconds, rss))
    await fixed_rate(seconds, rate, one)
    await sampler
    crashed = proc.poll() is not None
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    out = stats.summary()
    out.update({"server": "signet authz", "seconds": seconds, "flows_per_s": rate,
                "stale_keepalive_retries": pool.stale_retries,
                "crashed": crashed, "exit_code_after_sigterm": proc.returncode,
                "rss": rss_summary(rss)})
    return out


def main():
    mode = sys.argv[1]
    if mode == "backend":
        backend(int(sys.argv[2]), int(sys.argv[3]))
        return
    binary, seconds, rate = sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    run = soak_gateway if mode == "gateway" else soak_authz
    print(json.dumps(asyncio.run(run(binary, seconds, rate)), indent=2))


if __name__ == "__main__":
    main()
