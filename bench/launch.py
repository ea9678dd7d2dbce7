"""What a launch costs: the tool's full login + launch on SQLite and PostgreSQL, against the
floor and against stock pylti1p3 2.0.0 doing the same three upserts, interleaved in one run:
in-process (WSGI, per-launch time) and over HTTP under gunicorn (launches per second).

    .venv/bin/python bench/launch.py [--n 300] [--http-launches 1000] [--workers 2]

The floor is what any launch must do: one RS256 verify, one bare Flask request, three small
upserts. The minimum (bench/minimal_launch_app.py) is the least a Flask login + launch can do
that still checks what LTI 1.3 requires: the state cookie, the id_token, the state spent once,
a session cookie; it runs beside the tool in-process and over HTTP, so the figures say how
much of the gap to the floor and to stock belongs to Flask and the protocol, and how much to
the tool. Stock pylti1p3 (not the fork the project installs) runs in a virtual environment the
bench makes under ~/.cache/lti-tool-bench/ (pip install pylti1p3==2.0.0 flask gunicorn
psycopg[binary] sqlalchemy), from bench/stock_pylti1p3_app.py, on the same database, with the
same number of gunicorn workers. Platform-side work (signing the id_token) is done outside the
timed part: in-process between login and launch, over HTTP between a burst of logins and the
burst of their launches (signing costs the load client about three launches' CPU on the same
two cores the servers use). The tool's launches
repeat one student's, as most launches do (an unchanged repeat launch writes nothing but the
login state).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jwt  # noqa: E402
import minimal_launch_app  # noqa: E402
import scratch_db  # noqa: E402
from flask import Flask  # noqa: E402
from sandbox_world import workers_cpu  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from lti_tool import migrate  # noqa: E402
from lti_tool.app import create_app  # noqa: E402
from lti_tool.cli import prepare  # noqa: E402
from lti_tool.db import make_engine  # noqa: E402
from lti_tool.sandbox.models import (  # noqa: E402
    SandboxEnrollment,
    SandboxLink,
    SandboxPlatform,
    SandboxTool,
    SandboxUser,
)
from lti_tool.sandbox.platform import (  # noqa: E402
    PlatformUrls,
    _loaded,
    id_token_claims,
    platform_jwks,
    signing_key,
)
from lti_tool.sandbox.seed import seed_demo  # noqa: E402
from lti_tool.settings import load_settings  # noqa: E402


class Wsgi:
    """Calls a WSGI app with an environ built beforehand: only the app's work is timed."""

    def __init__(self, app: Any) -> None:
        self.app = app

    @staticmethod
    def environ(
        method: str, path: str, form: dict[str, str] | None = None, cookies: str = ""
    ) -> dict:
        from werkzeug.test import EnvironBuilder

        headers = {"Cookie": cookies} if cookies else {}
        builder = EnvironBuilder(
            path=path, method=method, data=form, headers=headers, base_url="http://127.0.0.1:5000"
        )
        try:
            return builder.get_environ()
        finally:
            builder.close()

    def call(self, environ: dict) -> tuple[str, dict[str, list[str]], bytes]:
        captured: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            captured["status"] = status
            captured["headers"] = headers
            return lambda data: None

        body = b"".join(self.app(environ, start_response))
        headers: dict[str, list[str]] = {}
        for k, v in captured["headers"]:
            headers.setdefault(k.lower(), []).append(v)
        return captured["status"], headers, body


def cookie_pairs(headers: dict[str, list[str]]) -> str:
    return "; ".join(c.split(";", 1)[0] for c in headers.get("set-cookie", []))


class InProcessHttp:
    """Serves the sandbox JWKS from the database: no network in an in-process benchmark."""

    def __init__(self) -> None:
        self.app: Flask | None = None

    def get_json(self, url: str) -> Any:
        assert self.app is not None
        rt = self.app.extensions["lti_tool"]
        slug = urlsplit(url).path.split("/")[2]
        with rt.session_factory() as s:
            platform = s.scalar(select(SandboxPlatform).where(SandboxPlatform.slug == slug))
            return platform_jwks(s, platform)


class Platform:
    """The sandbox's Moodle shape, signing id_tokens for one student outside the timing."""

    def __init__(self, app: Flask) -> None:
        rt = app.extensions["lti_tool"]
        self.settings = rt.settings
        with rt.session_factory() as s:
            self.platform = s.scalar(
                select(SandboxPlatform).where(SandboxPlatform.slug == "moodle")
            )
            self.tool = s.scalar(
                select(SandboxTool).where(SandboxTool.platform_id == self.platform.id)
            )
            self.link = s.scalar(
                select(SandboxLink).where(
                    SandboxLink.tool_id == self.tool.id,
                    SandboxLink.message_type == "LtiResourceLinkRequest",
                )
            )
            self.enrollment, self.user = s.execute(
                select(SandboxEnrollment, SandboxUser)
                .join(SandboxUser, SandboxUser.id == SandboxEnrollment.user_id)
                .where(SandboxEnrollment.role == "student")
                .where(SandboxEnrollment.course_id == self.link.course_id)
            ).first()
            self.key = signing_key(s, self.platform)
            self.base_claims = id_token_claims(
                s,
                self.platform,
                PlatformUrls(self.settings.sandbox_base_url, self.platform),
                self.tool,
                self.link,
                self.user,
                self.enrollment,
                "x",
            )
            s.expunge_all()
        self.private = _loaded(self.key.private_pem)

    def login_params(self) -> dict[str, str]:
        return {
            "iss": self.platform.issuer,
            "login_hint": self.user.lti_sub,
            "target_link_uri": self.tool.target_link_uri,
            "lti_message_hint": "1",
            "client_id": self.tool.client_id,
            "lti_deployment_id": self.tool.deployment_id,
        }

    def id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims = {**self.base_claims, "nonce": nonce, "iat": now, "exp": now + 60}
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": self.key.kid})


BENCH = Path(__file__).resolve().parent
STOCK_VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / (
    "lti-tool-bench/stock-pylti1p3"
)
STOCK_PACKAGES = ["pylti1p3==2.0.0", "flask", "gunicorn", "psycopg[binary]", "sqlalchemy"]
SECRET = "bench-launch-" + "s" * 40
# What the in-process figures count: wall time, or with --cpu this thread's CPU time, which
# a busy machine's other processes do not inflate (it leaves out PostgreSQL's own work).
CLOCK: list[Callable[[], float]] = [time.perf_counter]


def stock_python() -> Path:
    """The stock pylti1p3 2.0.0 environment's python, made on first use."""
    python = STOCK_VENV / "bin" / "python"
    probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('pylti1p3'))"]
    if python.exists():
        found = subprocess.run(probe, capture_output=True, text=True)
        if found.stdout.strip() == "2.0.0":
            return python
    print(f"making {STOCK_VENV} with {' '.join(STOCK_PACKAGES)} …", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(STOCK_VENV)], check=True)
    pip = [str(STOCK_VENV / "bin" / "pip"), "install", "-q", *STOCK_PACKAGES]
    subprocess.run(pip, check=True)
    return python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tool_settings(database_url: str, port: int) -> dict[str, Any]:
    return {
        "environment": "test",
        "sandbox_enabled": True,
        "database_url": database_url,
        "base_url": f"http://127.0.0.1:{port}",
        "sandbox_base_url": f"http://localhost:{port}",
        "secret_key": SECRET,
        "log_level": "ERROR",
        # no background roster sync (the sandbox's services are not served in-process)
        "roster_max_age_seconds": 0,
        # the limiter runs (its cost is part of a launch) but never refuses the bench
        "rate_limit_login": "10000000/minute",
        "rate_limit_launch": "10000000/minute",
    }


def tool_app(database_url: str, port: int) -> tuple[Flask, Platform]:
    http = InProcessHttp()
    settings = load_settings(environ={}, overrides=tool_settings(database_url, port))
    app = create_app(settings, http=http)
    http.app = app
    rt = app.extensions["lti_tool"]
    prepare(rt)
    with rt.session_factory() as s:
        seed_demo(s, settings)
        s.commit()
    return app, Platform(app)


def time_tool_launches(
    app: Flask, platform: Platform, n: int, launch_only: list[float] | None = None
) -> list[float]:
    w = Wsgi(app)
    samples = []
    for _ in range(n):
        login_env = w.environ("POST", "/lti/login", platform.login_params())
        t0 = CLOCK[0]()
        status, headers, _ = w.call(login_env)
        t1 = CLOCK[0]()
        q = parse_qs(urlsplit(headers["location"][0]).query)
        token = platform.id_token(q["nonce"][0])  # the platform's work: not timed
        launch_env = w.environ(
            "POST",
            "/lti/launch",
            {"id_token": token, "state": q["state"][0]},
            cookie_pairs(headers),
        )
        t2 = CLOCK[0]()
        status, _, body = w.call(launch_env)
        t3 = CLOCK[0]()
        assert status.startswith("303"), body[:500]
        samples.append((t1 - t0) + (t3 - t2))
        if launch_only is not None:
            launch_only.append(t3 - t2)
    return samples


class Floor:
    """One RS256 verify + one bare Flask request + three small upserts."""

    def __init__(self, database_url: str, platform: Platform) -> None:
        bare = Flask("floor")

        @bare.get("/")
        def hello() -> str:
            return "ok"

        self.w = Wsgi(bare)
        self.bare_env = self.w.environ("GET", "/")
        self.engine = make_engine(database_url)
        with self.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS bench_floor"))
            conn.execute(
                text("CREATE TABLE bench_floor (k VARCHAR(64) PRIMARY KEY, v VARCHAR(64))")
            )
        self.upsert = text(
            "INSERT INTO bench_floor (k, v) VALUES (:k, :v) "
            "ON CONFLICT (k) DO UPDATE SET v = excluded.v"
        )
        self.platform = platform
        self.public = platform.private.public_key()

    def time(self, n: int) -> list[float]:
        platform = self.platform
        samples = []
        for i in range(n):
            token = platform.id_token(str(i))
            start = CLOCK[0]()
            jwt.decode(
                token,
                self.public,
                algorithms=["RS256"],
                audience=platform.tool.client_id,
                issuer=platform.platform.issuer,
            )
            self.w.call(dict(self.bare_env))
            with self.engine.begin() as conn:
                for k in ("user", "context", "membership"):
                    conn.execute(self.upsert, {"k": k, "v": str(i)})
            samples.append(CLOCK[0]() - start)
        return samples

    def close(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("DROP TABLE bench_floor"))
        self.engine.dispose()


def stock_config(platform: Platform, database_url: str, path: Path) -> Path:
    """What the stock app needs: the platform's registration and key, the database."""
    config = {
        "issuer": platform.platform.issuer,
        "client_id": platform.tool.client_id,
        "deployment_id": platform.tool.deployment_id,
        "auth_login_url": "http://localhost/auth",
        "jwks": {"keys": [dict(platform.key.public_jwk)]},
        "launch_url": platform.tool.target_link_uri,
        "database_url": database_url,
        "private_pem": platform.key.private_pem,
        "kid": platform.key.kid,
        "claims": platform.base_claims,
        "login_params": platform.login_params(),
    }
    path.write_text(json.dumps(config, default=str))
    return path


class StockInProcess:
    """Stock pylti1p3 timing its own in-process launches in its environment, round by round."""

    def __init__(self, python: Path, config: Path) -> None:
        self.proc = subprocess.Popen(
            [str(python), str(BENCH / "stock_pylti1p3_app.py")]
            + (["--cpu"] if CLOCK[0] is time.thread_time else []),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "BENCH_STOCK_CONFIG": str(config)},
            cwd=BENCH,
        )

    def time(self, n: int) -> list[float]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"n": n}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the stock pylti1p3 process ended (its error is above)")
        return list(json.loads(line))

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def gunicorn(
    executable: Path, app: str, port: int, workers: int, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [
            str(executable),
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            app,
        ],
        env={**os.environ, **env},
        cwd=BENCH,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"{app} did not start on port {port}")


def post(port: int, path: str, form: dict[str, str], cookies: str = "") -> Any:
    from urllib.parse import urlencode

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if cookies:
        headers["Cookie"] = cookies
    conn.request("POST", path, urlencode(form), headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def http_login(platform: Platform, port: int) -> tuple[str, str, str]:
    """The login a browser sent by the platform makes: (state, nonce, cookies) for its launch."""
    login = post(port, "/lti/login", platform.login_params())
    assert login.status == 302, login.status
    q = parse_qs(urlsplit(login.getheader("Location")).query)
    cookies = "; ".join(c.split(";", 1)[0] for c in login.headers.get_all("Set-Cookie") or [])
    return q["state"][0], q["nonce"][0], cookies


def http_launch(platform: Platform, port: int, expect: int) -> None:
    """One login + launch over HTTP, the id_token signed in between (warm-up only)."""
    state, nonce, cookies = http_login(platform, port)
    launch = post(
        port, "/lti/launch", {"id_token": platform.id_token(nonce), "state": state}, cookies
    )
    assert launch.status == expect, launch.status


def burst(work: list[Callable[[], Any]], clients: int) -> tuple[float, list[Any]]:
    """Runs every call with `clients` browsers back to back; the seconds it took, the
    answers in order."""
    answers: list[Any] = [None] * len(work)
    next_index = iter(range(len(work)))
    lock = threading.Lock()

    def client() -> None:
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            answers[i] = work[i]()

    start = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - start, answers


def throughput(
    platform: Platform, port: int, expect: int, n: int, clients: int, server: Any
) -> dict[str, float]:
    """`n` logins as fast as `clients` browsers send them, then their `n` launches: logins/s,
    launches/s, login + launch pairs/s, and the server's worker CPU ms per pair. The platform
    signs the id_tokens between the two bursts, so the load client's RSA signing (three
    times a launch's own CPU) does not take the machine's CPUs from the servers."""
    cpu = workers_cpu(server)
    login_s, logins = burst([lambda: http_login(platform, port)] * n, clients)
    signed = [(platform.id_token(nonce), state, cookies) for state, nonce, cookies in logins]

    def launcher(token: str, state: str, cookies: str) -> Callable[[], None]:
        def launch() -> None:
            answer = post(port, "/lti/launch", {"id_token": token, "state": state}, cookies)
            assert answer.status == expect, answer.status

        return launch

    launch_s, _ = burst([launcher(*item) for item in signed], clients)
    cpu_after = workers_cpu(server)
    return {
        "login": n / login_s,
        "launch": n / launch_s,
        "pair": n / (login_s + launch_s),
        "cpu": (cpu_after - cpu) * 1000 / n,
    }


def ms(samples: list[float], quantile: float = 0.5) -> float:
    """A quantile in milliseconds: the median, or a low one that a busy machine's pauses
    (another process taking the CPU mid-launch) leave alone."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * quantile))] * 1000


def in_process(
    url: str, port: int, stock_py: Path, n: int, rounds: int
) -> tuple[Platform, dict[str, list[float]]]:
    app, platform = tool_app(url, port)
    floor = Floor(url, platform)
    config = stock_config(platform, url, Path(tempfile.mkdtemp()) / "c")
    stock = StockInProcess(stock_py, config)
    minimal_launch_app.prepare(url, platform.platform.issuer, platform.base_claims["sub"])
    minimum = minimal_launch_app.create(json.loads(config.read_text()))
    times: dict[str, list[float]] = {
        "tool": [],
        "launch": [],
        "floor": [],
        "stock": [],
        "minimum": [],
        "minimum launch": [],
    }
    try:
        time_tool_launches(app, platform, 20)  # warm-up: caches, first writes
        time_tool_launches(minimum, platform, 20)
        floor.time(20)
        stock.time(20)
        per_round = max(1, n // rounds)
        for _ in range(rounds):  # interleaved: the machine's drift hits all four alike
            times["tool"] += time_tool_launches(app, platform, per_round, times["launch"])
            times["floor"] += floor.time(per_round)
            times["stock"] += stock.time(per_round)
            times["minimum"] += time_tool_launches(
                minimum, platform, per_round, times["minimum launch"]
            )
    finally:
        stock.close()
        floor.close()
        app.extensions["lti_tool"].engine.dispose()
    return platform, times


def over_http(
    url: str, port: int, platform: Platform, stock_py: Path, args: argparse.Namespace
) -> dict[str, float]:
    env = {f"LTI_TOOL_{k.upper()}": str(v) for k, v in tool_settings(url, port).items()}
    tool = gunicorn(
        Path(sys.executable).with_name("gunicorn"), "lti_tool.wsgi:app", port, args.workers, env
    )
    stock_port = free_port()
    config = stock_config(platform, url, Path(tempfile.mkdtemp()) / "c")
    stock = gunicorn(
        stock_py.with_name("gunicorn"),
        "stock_pylti1p3_app:app",
        stock_port,
        args.workers,
        {"BENCH_STOCK_CONFIG": str(config)},
    )
    minimum_port = free_port()
    minimum = gunicorn(
        Path(sys.executable).with_name("gunicorn"),
        "minimal_launch_app:app",
        minimum_port,
        args.workers,
        {"BENCH_MINIMAL_CONFIG": str(config)},
    )
    figures: dict[str, dict[str, list[float]]] = {"tool": {}, "stock": {}, "minimum": {}}
    try:
        for _ in range(10):  # one at a time: the platform keys are fetched and cached first
            http_launch(platform, port, 303)
            http_launch(platform, stock_port, 200)
            http_launch(platform, minimum_port, 303)
        runs = {
            "tool": (port, 303, tool),
            "stock": (stock_port, 200, stock),
            "minimum": (minimum_port, 303, minimum),
        }
        for _ in range(args.http_rounds):  # interleaved: the machine's drift hits all alike
            for name, (at, expect, server) in runs.items():
                got = throughput(platform, at, expect, args.http_launches, args.clients, server)
                for k, v in got.items():
                    figures[name].setdefault(k, []).append(v)
    finally:
        for server in (tool, stock, minimum):
            server.terminate()
            server.wait(timeout=30)
    return {
        f"{name} {k}": statistics.median(v) for name, f in figures.items() for k, v in f.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="in-process launches per measurement")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved in-process rounds")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of each server")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument(
        "--http-launches", type=int, default=1000, help="logins, then launches, per HTTP round"
    )
    parser.add_argument("--http-rounds", type=int, default=3, help="interleaved HTTP rounds")
    parser.add_argument("--no-http", action="store_true", help="in-process figures only")
    parser.add_argument(
        "--cpu", action="store_true", help="in-process: CPU time of the serving thread"
    )
    args = parser.parse_args()
    if args.cpu:
        CLOCK[0] = time.thread_time

    stock_py = stock_python()
    tmp = tempfile.mkdtemp()
    backends = [("SQLite", f"sqlite:///{tmp}/bench.db")]
    scratch = scratch_db.create()
    if scratch:
        backends.append(("PostgreSQL", scratch[0]))
    rows = []
    try:
        for name, url in backends:
            engine = make_engine(url)
            migrate.upgrade(engine)
            engine.dispose()
            port = free_port()
            platform, times = in_process(url, port, stock_py, args.n, args.rounds)
            rates = {} if args.no_http else over_http(url, port, platform, stock_py, args)
            rows.append((name, times, rates))
    finally:
        if scratch:
            scratch_db.drop(scratch[1])

    for quantile, label in ((0.5, "median"), (0.1, "10th percentile")):
        print(
            f"\nIn-process login + launch, {label} of {args.n} in {args.rounds} interleaved "
            f"rounds (WSGI, id_token signing excluded, {'CPU' if args.cpu else 'wall'} time)\n"
        )
        print(
            f"{'database':<12}{'tool':>9}{'launch alone':>14}{'floor':>9}{'stock':>9}"
            f"{'tool/floor':>12}{'launch/floor':>14}{'stock/floor':>13}{'tool/stock':>12}"
        )
        medians = [
            (name, {k: ms(v, quantile) for k, v in times.items()}) for name, times, _ in rows
        ]
        for name, t in medians:
            print(
                f"{name:<12}{t['tool']:>7.2f}ms{t['launch']:>12.2f}ms{t['floor']:>7.2f}ms"
                f"{t['stock']:>7.2f}ms{t['tool'] / t['floor']:>11.2f}x"
                f"{t['launch'] / t['floor']:>13.2f}x{t['stock'] / t['floor']:>12.2f}x"
                f"{t['tool'] / t['stock']:>11.2f}x"
            )
        print(
            f"\n{'':<12}{'minimum':>9}{'its launch':>14}{'min launch/floor':>18}"
            f"{'launch/min launch':>19}{'tool/minimum':>14}"
        )
        for name, t in medians:
            print(
                f"{name:<12}{t['minimum']:>7.2f}ms{t['minimum launch']:>12.2f}ms"
                f"{t['minimum launch'] / t['floor']:>17.2f}x"
                f"{t['launch'] / t['minimum launch']:>18.2f}x{t['tool'] / t['minimum']:>13.2f}x"
            )
    print(
        "(minimum: bench/minimal_launch_app.py, the least a Flask login + launch can do: a signed "
        "state cookie, the RS256 checks, the state spent and the user read in one transaction, "
        "a signed session cookie)"
    )
    if not args.no_http:
        print(
            f"\nOver HTTP: gunicorn, {args.workers} sync workers each, {args.clients} clients, "
            f"median of {args.http_rounds} interleaved rounds of {args.http_launches} logins "
            "then their launches (id_tokens signed between the two bursts)\n"
        )
        print(
            f"{'database':<12}{'':<8}{'logins/s':>10}{'launches/s':>12}{'pairs/s':>10}"
            f"{'worker CPU/pair':>17}"
        )
        for name, _, r in rows:
            for who in ("tool", "stock", "minimum"):
                print(
                    f"{name if who == 'tool' else '':<12}{who:<8}{r[who + ' login']:>10.0f}"
                    f"{r[who + ' launch']:>12.0f}{r[who + ' pair']:>10.0f}"
                    f"{r[who + ' cpu']:>15.2f}ms"
                )
            print(
                f"{'':<12}{'tool/stock':<8}{r['tool login'] / r['stock login']:>9.2f}x"
                f"{r['tool launch'] / r['stock launch']:>11.2f}x"
                f"{r['tool pair'] / r['stock pair']:>9.2f}x"
                f"{r['stock cpu'] / r['tool cpu']:>14.2f}x (stock/tool)"
            )
            print(
                f"{'':<12}{'min/stock':<8}{r['minimum login'] / r['stock login']:>9.2f}x"
                f"{r['minimum launch'] / r['stock launch']:>11.2f}x"
                f"{r['minimum pair'] / r['stock pair']:>9.2f}x"
                f"{r['stock cpu'] / r['minimum cpu']:>14.2f}x (stock/minimum)"
            )
        print(
            "(the machine's 2 CPUs serve the load client too; worker CPU per pair is the "
            "servers' own cost, PostgreSQL's not counted)"
        )
    print(
        "\nTargets: launch <= 1.3x the floor in-process on each database; over HTTP >= 1.2x "
        "stock pylti1p3's launches per second."
    )


if __name__ == "__main__":
    main()
