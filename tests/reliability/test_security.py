"""Security: parameterised SQL, the admin token, the bind address, and no secret in the repository.

The container user and the Compose secrets are checked by tests/observability/test_compose.py;
body size and k bounds by test_bad_input.py.
"""

from __future__ import annotations

import ast
import math
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import psutil
import psycopg
import pytest
from pydantic import SecretStr

from lensflow.serve.app import create_app
from lensflow.settings import Settings
from tests.conftest import ADMIN_TOKEN, REPO, run_coroutine
from tests.reliability.support import table_counts

SRC = REPO / "src" / "lensflow"
INJECTIONS = [
    "1; DROP TABLE ratings; --",
    "1' OR '1'='1",
    "1) OR (1=1",
    "0 UNION SELECT user_id, 'x', 1.0 FROM users --",
    "'; SELECT pg_sleep(3); --",
    "1; SELECT pg_sleep(3)",
    "$$; TRUNCATE movies CASCADE; $$",
    "\\'; DELETE FROM embedding_sets; --",
    "%' OR title ILIKE '%",
    "lensflow_v1_items",
    '"; DROP TABLE serving; --',
]
ID_PATHS = ["/recommendations/{}", "/movies/{}/similar", "/movies/{}", "/users/{}/ratings"]


@pytest.fixture(scope="module")
def client(live_api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_api, timeout=10) as c:
        yield c


def serving_state(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT model_name, version, checksum FROM embedding_sets"
            " JOIN serving USING (model_name, version)"
        ).fetchall()


# --- SQL injection through every input ------------------------------------------------------------


def injection_requests(payload: str) -> Iterator[tuple[str, str, dict[str, object], set[int]]]:
    """(method, path, request kwargs, acceptable statuses) carrying `payload` in each input."""
    quoted = quote(payload, safe="")
    for template in ID_PATHS:
        yield "GET", template.format(quoted), {}, {404, 422}
    for path in ("/recommendations/1", "/movies/1/similar"):
        yield "GET", path, {"params": {"k": payload}}, {422}
    yield "GET", "/users/1/ratings", {"params": {"limit": payload}}, {422}
    yield "GET", "/movies/search", {"params": {"q": payload[:100]}}, {200}
    good = {"movie_id": 1, "rating": 4}
    for body in (
        {"ratings": [{"movie_id": payload, "rating": 4}]},
        {"ratings": [{"movie_id": 1, "rating": payload}]},
        {"ratings": [good], "k": payload},
        {"ratings": [good], payload: 1},
        {"ratings": [{**good, payload: 1}]},
    ):
        yield "POST", "/recommendations", {"json": body}, {422}
    yield "POST", "/admin/reload", {"headers": {"Authorization": f"Bearer {payload}"}}, {401}


def test_sql_injection_through_every_input_has_no_effect(
    client: httpx.Client, trained: tuple[Settings, dict]
) -> None:
    url = str(trained[0].database_url)
    counts, serving = table_counts(url), serving_state(url)
    answered: Counter[int] = Counter()
    for payload in INJECTIONS:
        for method, path, kwargs, allowed in injection_requests(payload):
            started = time.monotonic()
            r = client.request(method, path, **kwargs)  # type: ignore[arg-type]
            elapsed = time.monotonic() - started
            answered[r.status_code] += 1
            assert r.status_code in allowed, (method, path, kwargs, r.status_code, r.text[:200])
            assert elapsed < 2.0, f"{payload!r} took {elapsed:.1f}s: did pg_sleep run?"
            if path == "/movies/search":
                needle = payload[:100].strip().lower()
                assert all(needle in m["title"].lower() for m in r.json()), (payload, r.json()[:3])
    assert client.get("/readyz").status_code == 200
    assert table_counts(url) == counts, "an injection changed a table"
    assert serving_state(url) == serving
    assert sum(answered.values()) == 14 * len(INJECTIONS)
    print(f"\ninjections: {sum(answered.values())} requests, by status {dict(sorted(answered.items()))}")


# --- every SQL statement is a literal or a psycopg.sql composition --------------------------------

_EXECUTES = {"execute", "executemany", "copy"}
_SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|TRUNCATE|COPY|GRANT)\b")


def _text(node: ast.AST) -> str:
    """The text of a string literal or of an f-string's literal parts; "" for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_text(part) for part in node.values)
    return ""


def _built_at_run_time(node: ast.AST) -> bool:
    """An f-string, a % or + with a non-literal side, or str.format: text that carries values."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return not (isinstance(node.left, ast.Constant) and isinstance(node.right, ast.Constant))
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant | ast.JoinedStr)
    )


def unsafe_sql(source: str, filename: str) -> list[str]:
    """SQL text built from run-time values instead of bound parameters or psycopg.sql composition."""
    problems = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if _built_at_run_time(node):
            parts = [node, *ast.iter_child_nodes(node)]
            if isinstance(node, ast.Call):
                parts.append(node.func.value)  # type: ignore[attr-defined]
            if any(_SQL_WORDS.search(_text(part)) for part in parts):
                problems.append(f"{where}: SQL text built with an f-string, %, + or str.format")
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
            continue
        first = node.args[0]
        if node.func.attr == "SQL" and not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            problems.append(f"{where}: sql.SQL() of a non-literal: composition would not escape it")
        if node.func.attr in _EXECUTES and _built_at_run_time(first):
            problems.append(f"{where}: {node.func.attr}() of a statement built at run time")
    return problems


def sql_calls(source: str) -> int:
    return sum(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _EXECUTES
        for n in ast.walk(ast.parse(source))
    )


def test_the_sql_checker_catches_string_built_statements() -> None:
    bad = {
        "f-string": "conn.execute(f\"SELECT * FROM movies WHERE title = '{q}'\")",
        "percent": 'conn.execute("SELECT * FROM users WHERE user_id = %s" % uid)',
        "format": 'conn.execute("DELETE FROM ratings WHERE user_id = {}".format(uid))',
        "concat": 'conn.execute("SELECT * FROM movies WHERE title = \'" + q + "\'")',
        "sql-of-fstring": 'conn.execute(sql.SQL(f"DROP TABLE {name}"))',
        "sql-of-variable": "conn.execute(sql.SQL(text).format(sql.Identifier(name)))",
        "variable": 'stmt = "SELECT 1 WHERE x = " + q\nconn.execute(stmt)',
        "built-in-call": "conn.execute(prefix + where, (q,))",
    }
    for label, snippet in bad.items():
        assert unsafe_sql(snippet, label), f"the checker missed: {label}"
    good = (
        'conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))\nconn.execute("SELECT %s", (q,))'
    )
    assert unsafe_sql(good, "good") == []


def test_every_sql_statement_in_the_package_is_parameterised() -> None:
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 20
    problems = [p for path in files for p in unsafe_sql(path.read_text(), str(path.relative_to(REPO)))]
    assert not problems, "\n".join(problems)
    assert sum(sql_calls(path.read_text()) for path in files) >= 20, "the scan saw too few statements"
    # ruff's S608 (string-built SQL) is ignored project-wide for the tests; the package must pass it.
    ruff = [sys.executable, "-m", "ruff", "check", "--no-cache", "--select", "S608", str(SRC)]
    done = subprocess.run(ruff, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr


# --- the admin token --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer " + "x" * len(ADMIN_TOKEN),  # same length, wrong
        "Bearer " + ADMIN_TOKEN[:-1] + chr(ord(ADMIN_TOKEN[-1]) ^ 1),  # differs in the last byte only
        "Bearer " + ADMIN_TOKEN[:-1],  # a prefix
        "Bearer " + ADMIN_TOKEN + "x",  # longer
        "Bearer " + ADMIN_TOKEN.upper(),
        "Bearer  " + ADMIN_TOKEN,
        "Basic " + ADMIN_TOKEN,
        "Token " + ADMIN_TOKEN,
        ADMIN_TOKEN,
    ],
)
def test_admin_refuses_anything_but_the_exact_bearer_token(
    client: httpx.Client, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    r = client.post("/admin/reload", headers=headers)
    assert r.status_code == 401, (authorization, r.text)
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"] == "unauthorized" and r.json()["message"]
    assert ADMIN_TOKEN not in r.text


def test_admin_token_in_the_query_or_a_cookie_is_not_enough(client: httpx.Client) -> None:
    assert client.post("/admin/reload", params={"token": ADMIN_TOKEN}).status_code == 401
    assert client.post("/admin/reload", cookies={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 401


def test_admin_accepts_the_right_token(client: httpx.Client) -> None:
    for scheme in ("Bearer", "bearer"):  # RFC 9110: the scheme is case-insensitive
        r = client.post("/admin/reload", headers={"Authorization": f"{scheme} {ADMIN_TOKEN}"}, timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["changed"] is False


def test_admin_token_is_compared_in_constant_time() -> None:
    """Behaviour cannot show timing reliably; the code must use hmac.compare_digest and no ==."""
    tree = ast.parse((SRC / "serve" / "routes.py").read_text())
    function = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "require_admin")
    calls = {ast.unparse(n.func) for n in ast.walk(function) if isinstance(n, ast.Call)}
    assert "hmac.compare_digest" in calls
    compared = [ast.unparse(n) for n in ast.walk(function) if isinstance(n, ast.Compare)]
    assert not [c for c in compared if "presented" in c or "expected" in c], compared


@pytest.mark.parametrize("configured", [None, "", "   "])
def test_admin_is_disabled_without_a_real_token(configured: str | None) -> None:
    """No token, or a blank one (LENSFLOW_ADMIN_TOKEN= in an env file), must not open /admin."""
    settings = Settings(admin_token=None if configured is None else SecretStr(configured))
    app = create_app(settings)

    async def attempts() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lensflow") as c:
            headers = [
                {},
                {"Authorization": "Bearer"},
                {"Authorization": "Bearer "},
                {"Authorization": "Bearer   "},
            ]
            return [(await c.post("/admin/reload", headers=h)).status_code for h in headers]

    assert run_coroutine(attempts) == [401, 401, 401, 401]


# --- bind address -----------------------------------------------------------------------------------


def test_default_bind_address_is_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LENSFLOW_HOST", raising=False)
    assert Settings().host == "127.0.0.1"
    env = {k: v for k, v in os.environ.items() if k != "LENSFLOW_HOST"}
    done = subprocess.run(
        [sys.executable, "-m", "lensflow.cli", "serve", "--help"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0 and "127.0.0.1" in done.stdout, done.stdout


def test_the_running_service_listens_on_loopback_only(live_api: str) -> None:
    port = int(live_api.rsplit(":", 1)[1])
    listening = [
        c.laddr.ip for c in psutil.net_connections("tcp") if c.status == "LISTEN" and c.laddr.port == port
    ]
    assert listening == ["127.0.0.1"], listening


# --- secrets ----------------------------------------------------------------------------------------

_SECRET_PATTERNS = {
    "private key": re.compile("-----BEGIN [A-Z ]*PRIVATE" + " KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "API key": re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
}
_URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:([^@\s/'\"]+)@")
_ASSIGNED_SECRET = re.compile(
    r"(?i)[\w-]*(?:password|passwd|secret|api_?key|token)[\w-]*[\"']?\s*[:=]\s*[\"']([^\"'\s]{16,})[\"']"
)
_SECRET_FILES = re.compile(r"(^|/)(\.env|id_rsa|id_ed25519|.*\.pem|.*\.key|.*\.p12|credentials\.json)$")


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def secrets_in(text: str) -> list[str]:
    found = [name for name, pattern in _SECRET_PATTERNS.items() if pattern.search(text)]
    for password in _URL_PASSWORD.findall(text):
        if not password.startswith(("$", "<", "*")):
            found.append(f"password in a URL: {password[:3]}...")
    for value in _ASSIGNED_SECRET.findall(text):
        if _entropy(value) >= 3.5 and not value.startswith("$"):
            found.append(f"a random-looking literal secret: {value[:3]}...")
    return found


def test_the_secret_scanner_finds_planted_secrets() -> None:
    planted = [
        "-----BEGIN RSA PRIVATE" + " KEY-----\nMIIEow",
        "aws = 'AKIA" + "ABCDEFGHIJKLMNOP'",
        "GITHUB_TOKEN=gh" + "p_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
        "url = 'postgresql://lensflow:" + "hunter2@db/lensflow'",
        "LENSFLOW_ADMIN_TOKEN = '" + "9f86d081884c7d659a2feaa0c55ad015'",
    ]
    for text in planted:
        assert secrets_in(text), f"missed: {text[:30]}"
    harmless = "url: postgresql://lensflow:${POSTGRES_PASSWORD:?set it}@postgres/db\nADMIN_TOKEN = 'test'"
    assert secrets_in(harmless) == []


def test_no_secret_in_the_repository() -> None:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert len(listed) > 50
    problems = [f"{name}: a secret-bearing file" for name in listed if _SECRET_FILES.search(name)]
    for name in listed:
        path = REPO / name
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue  # binary
        problems += [f"{name}: {what}" for what in secrets_in(text)]
    assert not problems, "\n".join(problems)
