"""The Prometheus configs and rules are valid, and promtool's unit tests cover every alert."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.observability.prom import (
    PROMETHEUS_DIR,
    REPO,
    RULE_TESTS_DIR,
    RULES_DIR,
    SCRAPE_JOB,
    alert_names,
    load_yaml,
    promtool,
    render_local_config,
    run,
)

RULE_FILES = sorted(RULES_DIR.glob("*.yml"))
RULE_TEST_FILES = sorted(RULE_TESTS_DIR.glob("*.yml"))
RUNBOOK = REPO / "docs" / "monitoring.md"


def test_rule_and_test_files_exist() -> None:
    assert {p.name for p in RULE_FILES} == {"alerts.yml", "recording.yml"}
    assert RULE_TEST_FILES, f"no promtool unit tests in {RULE_TESTS_DIR}"


def test_compose_config_passes_promtool() -> None:
    result = run([promtool(), "check", "config", str(PROMETHEUS_DIR / "prometheus.yml")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 rule files found" in result.stdout + result.stderr


def test_local_config_template_passes_promtool(tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text(render_local_config(api_target="127.0.0.1:8000", prometheus_target="127.0.0.1:9090"))
    assert "@" not in config.read_text().split("global:", 1)[1], "a placeholder was left unreplaced"
    result = run([promtool(), "check", "config", str(config)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("config", ["compose", "local"])
def test_configs_scrape_the_api_under_the_job_the_rules_select(config: str) -> None:
    if config == "compose":
        parsed = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
        expected_target = "api:8000"
    else:
        import yaml

        parsed = yaml.safe_load(render_local_config(api_target="127.0.0.1:8123", prometheus_target="x:1"))
        expected_target = "127.0.0.1:8123"
    jobs = {job["job_name"]: job for job in parsed["scrape_configs"]}
    assert set(jobs) == {SCRAPE_JOB, "prometheus"}
    targets = [t for sc in jobs[SCRAPE_JOB]["static_configs"] for t in sc["targets"]]
    assert targets == [expected_target]
    assert jobs[SCRAPE_JOB].get("metrics_path", "/metrics") == "/metrics"
    rules_text = "".join(p.read_text() for p in RULE_FILES)
    assert f'job="{SCRAPE_JOB}"' in rules_text


def test_rules_pass_promtool_check() -> None:
    result = run([promtool(), "check", "rules", *map(str, RULE_FILES)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass() -> None:
    result = run([promtool(), "test", "rules", *map(str, RULE_TEST_FILES)], cwd=RULE_TESTS_DIR)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert output.count("SUCCESS") == len(RULE_TEST_FILES), output


def test_rule_unit_tests_can_fail(tmp_path: Path) -> None:
    """A broken alert threshold makes promtool's unit tests fail: they do test the rules."""
    rules = tmp_path / "rules"
    rules.mkdir()
    for path in RULE_FILES:
        text = path.read_text()
        if path.name == "alerts.yml":
            text = text.replace(
                "job:lensflow_http_errors:ratio_rate5m > 0.05", "job:lensflow_http_errors:ratio_rate5m > 0.5"
            )
            assert text != path.read_text()
        (rules / path.name).write_text(text)
    tests = tmp_path / "tests"
    tests.mkdir()
    for path in RULE_TEST_FILES:
        (tests / path.name).write_text(path.read_text())
    result = run([promtool(), "test", "rules", *(str(tests / p.name) for p in RULE_TEST_FILES)], cwd=tests)
    assert result.returncode != 0
    assert "LensflowHighErrorRatio" in result.stdout + result.stderr


def _alert_tests() -> list[dict[str, object]]:
    return [
        case
        for path in RULE_TEST_FILES
        for test in load_yaml(path).get("tests", [])
        for case in test.get("alert_rule_test", [])
    ]


@pytest.mark.parametrize("alert", alert_names())
def test_every_alert_is_unit_tested_firing_and_silent(alert: str) -> None:
    cases = [case for case in _alert_tests() if case["alertname"] == alert]
    assert any(case.get("exp_alerts") for case in cases), f"no promtool test shows {alert} firing"
    assert any(not case.get("exp_alerts") for case in cases), f"no promtool test shows {alert} silent"


def _duration_seconds(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smh])", text))


def _runbook_anchors() -> set[str]:
    """GitHub-style anchors of the headings in docs/monitoring.md."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", RUNBOOK.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


@pytest.mark.parametrize("alert", alert_names())
def test_every_alert_has_for_severity_summary_and_runbook(alert: str) -> None:
    groups = load_yaml(RULES_DIR / "alerts.yml")["groups"]
    rule = next(r for g in groups for r in g["rules"] if r.get("alert") == alert)
    assert _duration_seconds(rule.get("for", "")) >= 60, f"{alert} needs a `for:` of at least 1m"
    assert rule["labels"]["severity"] in {"critical", "warning"}
    assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    runbook = rule["annotations"]["runbook_url"]
    assert runbook == f"docs/monitoring.md#{alert.lower()}"
    assert alert.lower() in _runbook_anchors(), f"docs/monitoring.md has no section `{alert}`"


def test_expected_alerts_are_defined() -> None:
    assert set(alert_names()) >= {
        "LensflowApiDown",
        "LensflowHighErrorRatio",
        "LensflowHighLatencyP99",
        "LensflowNotReady",
        "LensflowNoModelLoaded",
        "LensflowStaleModel",
    }
