"""The deploy files: the env example is generated from the settings, the compose file is valid
(``docker compose config`` where docker has the compose plugin), and the Dockerfile and the
systemd unit run ``signalbot run`` as an unprivileged user with a health check."""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import Settings, load_settings
from bot.envfile import REGENERATE, env_example, env_names

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
EXAMPLE = DEPLOY / "signalbot.env.example"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
UNIT = DEPLOY / "signalbot.service"
SETTING_LINE = re.compile(r"^# ([A-Z][A-Z0-9_]*)=(.*)$")


# ---- the env example ----


def test_env_example_is_the_generated_one() -> None:
    committed = EXAMPLE.read_text(encoding="utf-8")
    generated = env_example()
    if committed != generated:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                generated.splitlines(keepends=True),
                "deploy/signalbot.env.example (committed)",
                "generated from bot.config.Settings",
            )
        )
        pytest.fail(
            "deploy/signalbot.env.example is out of date with bot.config.Settings; write it "
            f"again with `make env-example` (or `{REGENERATE}`) and commit it:\n{diff}",
            pytrace=False,
        )


def example_settings() -> dict[str, str]:
    return {
        m.group(1): m.group(2)
        for line in env_example().splitlines()
        if (m := SETTING_LINE.match(line))
    }


def test_every_setting_is_listed_once_with_its_other_names() -> None:
    listed = example_settings()
    text = env_example()
    assert len(listed) == len(Settings.model_fields)
    for name in Settings.model_fields:
        first, *others = env_names(Settings, name)
        assert first == f"SIGNALBOT_{name.upper()}"
        assert first in listed, name
        for other in others:
            assert f"Also read as {', '.join(others)}." in text, other
    assert env_names(Settings, "discord_token") == ["SIGNALBOT_DISCORD_TOKEN", "DISCORD_TOKEN"]
    assert listed["SIGNALBOT_DISCORD_TOKEN"] == ""  # a secret has no value in the example
    assert listed["SIGNALBOT_DATABASE_URL"] == "sqlite+aiosqlite:///data/signalbot.db"
    assert listed["SIGNALBOT_CATCH_UP_GRACE"] == "PT6H"
    assert listed["SIGNALBOT_FETCH_TIMEOUT"] == "15"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(("SIGNALBOT_", "SLACK_", "DISCORD_")):
            monkeypatch.delenv(key)


@pytest.mark.usefixtures("clean_env")
def test_the_example_copied_as_it_is_changes_nothing(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    shutil.copy(EXAMPLE, env)
    defaults = load_settings(_env_file=None).model_dump()
    assert load_settings(_env_file=env).model_dump() == defaults


@pytest.mark.usefixtures("clean_env")
def test_every_default_written_reads_back_as_itself(tmp_path: Path) -> None:
    """Uncommenting any line whose value is written gives the setting its default."""
    written = {name: value for name, value in example_settings().items() if value}
    env = tmp_path / ".env"
    env.write_text("".join(f"{k}={v}\n" for k, v in written.items()), encoding="utf-8")
    settings = load_settings(_env_file=env)
    assert {f"SIGNALBOT_{n.upper()}" for n in settings.model_fields_set} == set(written)
    defaults = load_settings(_env_file=None).model_dump()
    assert settings.model_dump() == defaults


def test_settings_example_command_prints_it() -> None:
    from tests.test_cli import run

    result = run("settings", "example")
    assert result.returncode == 0, result.stderr
    assert result.stdout == env_example()


# ---- compose ----


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def test_compose_runs_the_bot_on_a_healthy_postgres_16() -> None:
    services = compose()["services"]
    bot, db = services["bot"], services["db"]
    assert bot["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert bot["depends_on"] == {"db": {"condition": "service_healthy"}}
    url = bot["environment"]["SIGNALBOT_DATABASE_URL"]
    assert url.startswith("postgresql+asyncpg://") and "@db:5432/" in url
    assert any("signalbot.env" in str(path) for path in bot["env_file"])
    assert "/healthz" in " ".join(bot["healthcheck"]["test"])
    assert db["image"] == "postgres:16"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"} <= set(db["environment"])
    volume = db["volumes"][0].split(":")[0]
    assert volume in compose()["volumes"]  # a named volume, kept across `down` and `up`


def test_two_bot_replicas_cannot_collide() -> None:
    """`--scale bot=2`: no fixed container name, no fixed host port."""
    bot = compose()["services"]["bot"]
    assert "container_name" not in bot
    for port in bot.get("ports", []):
        parts = str(port).split(":")
        host_port = parts[-2] if len(parts) >= 2 else ""
        assert host_port == "" or "-" in host_port, f"fixed host port in {port!r}"


def docker_compose() -> list[str] | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    version = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, timeout=30, check=False
    )
    return [docker, "compose"] if version.returncode == 0 else None


def test_docker_compose_config_passes(tmp_path: Path) -> None:
    command = docker_compose()
    if command is None:
        why = "docker is installed without the compose plugin (`docker compose version` fails)"
        if shutil.which("docker") is None:
            why = "docker is not installed"
        pytest.skip(f"{why}: `docker compose -f deploy/compose.yaml config` not run")
    env_file = tmp_path / "signalbot.env"  # the operator's copy of the example
    shutil.copy(EXAMPLE, env_file)
    environ = {**os.environ, "SIGNALBOT_ENV_FILE": str(env_file)}
    result = subprocess.run(
        [*command, "-f", str(COMPOSE), "config"],
        capture_output=True, text=True, env=environ, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "service_healthy" in result.stdout


# ---- the Dockerfile ----


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (keyword, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def test_dockerfile_is_multi_stage_on_slim_python() -> None:
    froms = [args for keyword, args in instructions() if keyword == "FROM"]
    assert len(froms) >= 2
    assert froms[-1].split()[0] == "python:3.11-slim"
    assert any(k == "COPY" and "--from=" in a for k, a in final_stage())
    installs = " ".join(a for k, a in instructions() if k == "RUN")
    assert ".[slack,discord,postgres]" in installs


def test_dockerfile_runs_signalbot_run_as_a_user() -> None:
    stage = final_stage()
    users = [args for keyword, args in stage if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    entry = [args for keyword, args in stage if keyword == "ENTRYPOINT"][-1]
    cmd = [args for keyword, args in stage if keyword == "CMD"][-1]
    assert entry == '["signalbot"]' and cmd == '["run"]'
    assert ("EXPOSE", "3000") in stage


def test_dockerfile_database_is_a_file_in_data() -> None:
    env = " ".join(args for keyword, args in final_stage() if keyword == "ENV")
    url = re.search(r"SIGNALBOT_DATABASE_URL=(\S+)", env)
    assert url is not None
    assert url.group(1) == "sqlite+aiosqlite:////data/signalbot.db"  # absolute: /data
    assert load_settings(_env_file=None, database_url=url.group(1))
    assert any(k == "RUN" and "-o signalbot" in a and "/data" in a for k, a in final_stage())


def healthcheck() -> str:
    (args,) = [args for keyword, args in final_stage() if keyword == "HEALTHCHECK"]
    assert "/healthz" in args and "127.0.0.1" in args
    return args.split(" CMD ", 1)[1]


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        code = self.status if self.path == "/healthz" else 404
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("status", "exit_code"), [(200, 0), (503, 1)])
def test_dockerfile_healthcheck_command_works(
    health_server: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch, status: int, exit_code: int
) -> None:
    """The HEALTHCHECK's shell command as the container runs it, against a stand-in /healthz."""
    monkeypatch.setattr(_Health, "status", status)
    port = health_server.server_address[1]
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    environ = {**os.environ, "PATH": path, "SIGNALBOT_HTTP_PORT": str(port)}
    result = subprocess.run(
        ["sh", "-c", healthcheck()], capture_output=True, text=True, env=environ, timeout=30,
        check=False,
    )  # fmt: skip
    assert result.returncode == exit_code, result.stderr


def test_dockerignore_keeps_the_venv_git_and_secrets_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    for pattern in (".git", ".venv", ".env", "deploy/*.env", "tests"):
        assert pattern in ignored


# ---- the systemd unit ----


def test_systemd_unit_runs_signalbot_as_its_user_where_the_env_file_is() -> None:
    lines = UNIT.read_text(encoding="utf-8").splitlines()
    keys = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    assert keys["User"] == "signalbot"
    assert keys["ExecStart"].endswith("/signalbot run")
    assert keys["ExecStart"].startswith(keys["WorkingDirectory"])
    # signalbot reads .env in its working directory: where the example says to copy it
    assert f"{keys['WorkingDirectory']}/.env" in " ".join(env_example().split())
