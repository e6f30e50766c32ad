"""The Compose stack's structure: what `docker compose config` cannot judge.

`.ci/compose-check.sh` validates the file with a Compose implementation; these tests hold
the project's own rules: health checks and start-up order, named volumes, no secret with a
default, service names in `.env.example`, and pgAdmin's pre-registered server.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from dotenv import dotenv_values

from qbo_backfill.sandbox.config import SandboxConfig, derive_credentials

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
ENV_EXAMPLE = dotenv_values(ROOT / ".env.example")
USER_SECRETS = ("PG_PASSWORD", "PGADMIN_PASSWORD", "MAGE_OWNER_PASSWORD", "QBO_TOKEN_KEY")
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "KEY", "CLIENT_ID")
# `$${X}` is escaped: the container's shell expands it, not Compose.
VARIABLE = re.compile(r"(?<!\$)\$\{(?P<name>[A-Z0-9_]+)(?P<op>:?[-?+])?(?P<rest>[^}]*)\}")


def variables(node: Any) -> list[tuple[str, str, str]]:
    """Every `${NAME<op>rest}` in the file: (name, operator, default or message)."""
    text = yaml.safe_dump(node)
    return [(m["name"], m["op"] or "", m["rest"]) for m in VARIABLE.finditer(text)]


def test_the_four_services_of_the_seed_and_the_sandbox() -> None:
    assert set(SERVICES) == {"postgres", "pgadmin", "mage", "sandbox", "worker", "webhooks"}


@pytest.mark.parametrize("name", ["postgres", "pgadmin", "mage", "sandbox", "worker", "webhooks"])
def test_every_service_has_a_health_check(name: str) -> None:
    check = SERVICES[name]["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL")
    assert check["retries"] >= 3


def test_start_up_waits_for_a_healthy_database() -> None:
    for name in ("pgadmin", "mage", "worker", "webhooks"):
        assert SERVICES[name]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_data_lives_in_named_volumes() -> None:
    assert set(COMPOSE["volumes"]) == {"pgdata", "pgadmin_data", "mage_data"}
    mounts = {name: service.get("volumes", []) for name, service in SERVICES.items()}
    assert "pgdata:/var/lib/postgresql/data" in mounts["postgres"]
    assert "pgadmin_data:/var/lib/pgadmin" in mounts["pgadmin"]
    assert "mage_data:/home/src/mage_data" in mounts["mage"]
    assert SERVICES["mage"]["environment"]["MAGE_DATA_DIR"] == "/home/src/mage_data"


def test_no_secret_has_a_default_value() -> None:
    found = variables(COMPOSE)
    assert found
    for name, op, rest in found:
        if any(word in name for word in SECRET_WORDS):
            assert op in (":?", ":-"), name
            assert op == ":?" or rest == "", f"{name} has the default {rest!r}"


def test_the_stacks_own_secrets_are_required() -> None:
    required = {name for name, op, _ in variables(COMPOSE) if op == ":?"}
    assert set(USER_SECRETS) <= required


def test_ports_listen_on_loopback_only() -> None:
    for service in SERVICES.values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), port


def test_mage_reaches_the_others_by_service_name() -> None:
    env = SERVICES["mage"]["environment"]
    assert env["PG_HOST"] == "postgres"
    assert ENV_EXAMPLE["QBO_API_BASE_URL"] == "http://sandbox:8765"
    assert ENV_EXAMPLE["QBO_TOKEN_URL"] == "http://sandbox:8765/oauth2/v1/tokens/bearer"
    assert "--port 8765" in " ".join(SERVICES["sandbox"]["command"])


def test_the_sandbox_is_a_profile_that_env_example_turns_on() -> None:
    assert SERVICES["sandbox"]["profiles"] == ["sandbox"]
    assert ENV_EXAMPLE["COMPOSE_PROFILES"] == "sandbox"


def test_the_webhook_receiver_is_a_profile_with_a_health_probe() -> None:
    service = SERVICES["webhooks"]
    assert service["profiles"] == ["webhooks"]
    assert service["command"][:3] == ["qbo-backfill", "webhooks", "serve"]
    assert "/healthz" in " ".join(service["healthcheck"]["test"])
    assert ENV_EXAMPLE["QBO_WEBHOOK_VERIFIER_TOKEN"] == ""


def test_env_example_names_the_sandboxs_company() -> None:
    # The sandbox service runs with --seed 42; its first realm follows from the seed.
    assert "--seed 42" in " ".join(SERVICES["sandbox"]["command"])
    realm = derive_credentials(SandboxConfig(seed=42)).realm_ids[0]
    assert ENV_EXAMPLE["QBO_REALM_ID"] == realm


def test_env_example_leaves_the_users_secrets_empty() -> None:
    for name in USER_SECRETS:
        assert ENV_EXAMPLE[name] == "", name


def test_every_variable_the_file_uses_is_in_env_example() -> None:
    used = {name for name, _, _ in variables(COMPOSE)}
    assert used <= set(ENV_EXAMPLE), used - set(ENV_EXAMPLE)


def test_pgadmin_registers_the_postgres_service() -> None:
    servers = json.loads((ROOT / "docker" / "pgadmin" / "servers.json").read_text())["Servers"]
    (server,) = servers.values()
    assert (server["Host"], server["Port"]) == ("postgres", 5432)
    assert server["Username"] == ENV_EXAMPLE["PG_USER"]
    assert (
        "./docker/pgadmin/servers.json:/pgadmin4/servers.json:ro"
        in (SERVICES["pgadmin"]["volumes"])
    )


def test_the_image_installs_mage_and_this_package_in_one_command() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11" in dockerfile
    assert 'RUN pip install ".[mage]"' in dockerfile
    assert SERVICES["mage"]["command"] == ["mage", "start", "mage"]
