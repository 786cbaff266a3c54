"""Property-based fuzzing of every operation in the service's own OpenAPI document (schemathesis).

Valid and invalid inputs alike must never produce a 5xx; every answer must have a documented
status and match its documented schema; every error must be JSON with a message.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

MAX_EXAMPLES = 40  # per operation and mode: about 700 requests in all


def error_has_message(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx is a JSON object with a non-empty `message` and an `error` code."""
    if response.status_code < 400:
        return None
    body = response.json()
    assert isinstance(body, dict), f"error body is not a JSON object: {response.text[:200]}"
    assert isinstance(body.get("message"), str) and body["message"], f"error without a message: {body}"
    assert isinstance(body.get("error"), str), f"error without a code: {body}"
    return None


ANSWERED: Counter[int] = Counter()  # status -> count, for the report


def no_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    ANSWERED[response.status_code] += 1
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    return None


# positive_data_acceptance is left out on purpose: the contract answers 422 for schema-valid bodies
# that name unknown or repeated movies, which no OpenAPI schema can express.
CHECKS = [
    no_server_error,
    error_has_message,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def api_schema(live_api: str) -> Any:
    schema = schemathesis.openapi.from_url(f"{live_api}/openapi.json")
    schema.config.generation.update(allow_x00=True)
    return schema


def fuzz(operation: Any, mode: GenerationMode) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same cases on every run: a failure here is reproducible
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(checks=CHECKS, timeout=10)

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_every_operation_survives_fuzzed_input(api_schema: Any, mode: GenerationMode) -> None:
    failures, fuzzed = [], []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        takes_input = operation.path_parameters or operation.query or operation.headers or operation.body
        if mode is GenerationMode.NEGATIVE and not takes_input:
            continue  # nothing to make invalid
        fuzzed.append(operation.label)
        try:
            fuzz(operation, mode)
        except Unsatisfiable:
            fuzzed.pop()  # no invalid value exists, e.g. for an optional free-text header
        except Exception as exc:  # one report for all operations, not just the first to fail
            failures.append(f"{operation.label}: {exc}")
    assert len(fuzzed) >= (8 if mode is GenerationMode.POSITIVE else 6), fuzzed
    assert not failures, "\n\n".join(failures)
    print(f"\nfuzzed {mode}: {len(fuzzed)} operations, answers by status {dict(sorted(ANSWERED.items()))}")
    ANSWERED.clear()


def test_the_document_covers_every_operation_and_error(live_api: str) -> None:
    """The fuzzing above is only as wide as the document; make sure it lists what the service does."""
    import httpx

    document = httpx.get(f"{live_api}/openapi.json", timeout=10).json()
    operations = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    assert {
        ("GET", "/recommendations/{user_id}"),
        ("POST", "/recommendations"),
        ("GET", "/movies/{movie_id}/similar"),
        ("GET", "/movies/search"),
        ("GET", "/model"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("POST", "/admin/reload"),
    } <= operations
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            for status, answer in op["responses"].items():
                if status.startswith(("4", "5")) and path != "/readyz":
                    assert answer["content"]["application/json"]["schema"] == error_ref, (
                        method,
                        path,
                        status,
                    )
    reload_answers = document["paths"]["/admin/reload"]["post"]["responses"]
    assert {"401", "409", "503"} <= set(reload_answers)
    assert "404" in document["paths"]["/recommendations/{user_id}"]["get"]["responses"]
    assert "413" in document["paths"]["/recommendations"]["post"]["responses"]
