"""The dependency map, kept true: imports run one way, from the adapters down to the domain.

Every import in the source is read (module level, inside functions, under TYPE_CHECKING);
one running back up fails here with the file and the import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_LIBRARIES = ("slack_bolt", "slack_sdk", "slack", "discord")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            # "from bot import regions" imports bot.regions
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


SOURCES = sorted(
    p for folder in ("bot", "adapters") for p in (ROOT / folder).rglob("*.py")
    if "migrations" not in p.parts
)  # fmt: skip
GRAPH = {module_name(p): set(imports(p)) for p in SOURCES}


def under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def offending(module: str, *forbidden: str) -> list[str]:
    return sorted(i for i in GRAPH[module] if under(i, *forbidden))


def test_the_source_was_read() -> None:
    assert {"bot.domain", "bot.platform", "bot.cli", "adapters.console.channel"} <= set(GRAPH)


@pytest.mark.parametrize("module", [m for m in GRAPH if under(m, "bot")])
def test_the_core_never_imports_a_platform(module: str) -> None:
    assert offending(module, *PLATFORM_LIBRARIES) == []
    if module != "bot.cli":  # the CLI starts the adapters; nothing else in bot/ knows them
        assert offending(module, "adapters") == []


@pytest.mark.parametrize(
    "module", ["bot.domain", "bot.vocabulary", "bot.regions", "bot.clock", "bot.schedule"]
)
def test_the_domain_imports_nothing_above_it(module: str) -> None:
    above = ("bot.ingest", "bot.store", "bot.render", "bot.commands", "bot.delivery",
             "bot.service", "bot.app", "bot.platform", "bot.cli")  # fmt: skip
    assert offending(module, *above) == []


@pytest.mark.parametrize("module", [m for m in GRAPH if under(m, "bot.render")])
def test_render_knows_messages_not_who_sends_them(module: str) -> None:
    assert offending(module, "bot.store", "bot.delivery", "bot.commands", "bot.ingest") == []


@pytest.mark.parametrize("module", [m for m in GRAPH if under(m, "bot.store")])
def test_the_store_does_not_fetch_or_render(module: str) -> None:
    assert offending(module, "bot.ingest", "bot.render", "bot.commands", "bot.delivery") == []


@pytest.mark.parametrize("module", [m for m in GRAPH if under(m, "bot.ingest")])
def test_ingest_does_not_reach_the_store_or_chat(module: str) -> None:
    assert offending(module, "bot.store", "bot.render", "bot.commands", "bot.delivery") == []


@pytest.mark.parametrize("module", [m for m in GRAPH if under(m, "adapters")])
def test_adapters_use_only_the_public_surface(module: str) -> None:
    core = sorted(i for i in GRAPH[module] if under(i, "bot"))
    assert all(under(i, "bot.platform") for i in core), core


def test_the_public_surface_holds_the_whole_contract() -> None:
    import bot.platform as platform

    contract = {
        "REGISTRY", "Command", "Param", "Kind", "CommandRequest", "CommandContext",
        "CommandService", "Reply", "Action", "Sender", "DeliveryError", "FailureScope",
        "RateLimits", "Outgoing", "render_reply", "render_push", "encoded_push", "Lifecycle",
        "ChannelRef", "Bot", "option_spec", "suggestions", "slack_button", "discord_button",
    }  # fmt: skip
    assert contract <= set(platform.__all__)
    assert all(hasattr(platform, name) for name in platform.__all__)
