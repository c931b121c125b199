"""The ``signalbot`` command line (typer).

Errors a user can cause (a missing file, a page that is not a story, an unreachable URL, a bad
database URL) end the command with status 2 and one line on stderr naming the input and the
reason; no traceback.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import signal
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bot import envfile, operator, regions
from bot.app import Core, build_bot, build_core, make_fetcher
from bot.config import Settings, SettingsError, load_settings
from bot.domain import Story
from bot.ingest.sources import Parsed, expand_paths, read_source
from bot.render.messages import FORMATS, Format, render_story
from bot.store.db import DatabaseURLError
from bot.store.stories import EmptySearch, SearchQuery

if TYPE_CHECKING:
    from bot.observe import Health
    from bot.web import WebServer

app = typer.Typer(
    name="signalbot",
    help="World news signals in chat: ingest stories, preview messages, run the bot.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stories_app = typer.Typer(help="Look at stored stories.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(stories_app, name="stories")
app.add_typer(db_app, name="db")
app.add_typer(operator.subscriptions_app, name="subscriptions")
app.add_typer(envfile.settings_app, name="settings")
app.command("deliveries")(operator.deliveries)
app.command("doctor")(operator.doctor)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
T = TypeVar("T")


class UserError(Exception):
    """Ends a command with status 2: ``subject: reason`` on stderr."""

    def __init__(self, subject: str, reason: str) -> None:
        super().__init__(f"{subject}: {reason}")


def _fail(message: str) -> NoReturn:
    err.print(f"signalbot: {message}", markup=False)
    raise typer.Exit(2)


@functools.cache
def loaded_settings() -> Settings | SettingsError:
    """The settings (the environment and ``.env``), read once for the command, or what is
    wrong with them."""
    try:
        return load_settings()
    except SettingsError as error:
        return error


def _settings() -> Settings:
    settings = loaded_settings()
    if isinstance(settings, SettingsError):
        _fail(str(settings))
    return settings


@app.callback()
def _check_settings(ctx: typer.Context) -> None:
    """Every command starts by reading the settings: a bad one ends it before it begins
    (but for ``doctor``, which reports it among its checks)."""
    from bot import logs

    settings = loaded_settings()
    if isinstance(settings, SettingsError):
        if ctx.invoked_subcommand == "doctor":
            return
        _fail(str(settings))
    logs.configure(settings, level=logging.WARNING)  # `run` logs as the settings say


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (not on Windows): the bot's own work is
    mostly the loop's (sockets, callbacks, threads handing back results)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            return runner.run(main())
    except (UserError, SettingsError) as error:
        _fail(str(error))
    except DatabaseURLError as error:
        _fail(f"SIGNALBOT_DATABASE_URL: {error}")
    except (DBAPIError, OSError) as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        _fail(f"SIGNALBOT_DATABASE_URL: cannot use the database ({reason})")
    except SQLAlchemyError as error:
        _fail(f"SIGNALBOT_DATABASE_URL: database error ({str(error).splitlines()[0]})")


async def _serve_health(
    settings: Settings, core: Core, server: WebServer, health: Health, said: Sequence[str] = ()
) -> None:
    """``/healthz`` and ``/metrics`` on the process's HTTP server (with whatever else it
    carries), the server started, and what it serves said (``said`` first: ``{base}`` in
    them is the server's address)."""
    from bot import observe

    observe.mount(server, core, health)
    await server.start()
    base = f"http://{settings.http_host}:{server.port}"
    for line in (*said, "health and metrics at {base}/healthz and {base}/metrics"):
        _say(settings, line.format(base=base))


async def _with_core(work: Callable[[Core], Awaitable[T]]) -> T:
    core = build_core(_settings())
    try:
        await core.start()
        return await work(core)
    finally:
        await core.close()


def _dump(value: Any) -> None:
    out.print(json.dumps(value, indent=2, ensure_ascii=False), markup=False)


def _story_json(story: Story) -> dict[str, Any]:
    return story.model_dump(mode="json")


async def _read_one(spec: str, url: str | None) -> list[Story]:
    async with make_fetcher(_settings()) as fetcher:
        results = [parsed async for parsed in read_source(spec, fetcher, url=url)]
    failures = [r for r in results if r.error]
    if failures and not any(r.story for r in results):
        raise UserError(failures[0].source, failures[0].error or "failed")
    return [r.story for r in results if r.story is not None]


@app.command()
def parse(
    path: Annotated[str, typer.Argument(help="A page (text or HTML), JSON story file or URL")],
    url: Annotated[
        str | None, typer.Option(help="The page's URL (gives its id, link and dates)")
    ] = None,
) -> None:
    """Print a page parsed as a story, in JSON (the story file schema)."""
    stories = _run(lambda: _read_one(path, url))
    _dump(_story_json(stories[0]) if len(stories) == 1 else [_story_json(s) for s in stories])


@app.command()
def preview(
    story: Annotated[str, typer.Argument(help="A story id or URL from the store, or a page file")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="slack, discord or text")] = "text",
    url: Annotated[str | None, typer.Option(help="The page's URL, when STORY is a file")] = None,
) -> None:
    """Print the exact payload the bot would send for a story."""
    if fmt not in FORMATS:
        _fail(f"--format {fmt}: use one of {', '.join(FORMATS)}")
    chosen: Format = fmt
    is_file = Path(story).exists()

    async def find() -> Story:
        if is_file:
            return (await _read_one(story, url))[0]

        async def lookup(core: Core) -> Story:
            found = await core.stories.find(story)
            if found is None:
                raise UserError(
                    story, "no stored story has this id or URL (see 'signalbot stories list')"
                )
            return found

        return await _with_core(lookup)

    payload = render_story(_run(find), chosen)
    if isinstance(payload, str):
        out.print(payload, markup=False)
    else:
        _dump(payload)


@app.command()
def ingest(
    inputs: Annotated[list[str], typer.Argument(help="Files, directories, feeds or URLs")],
    url: Annotated[
        str | None, typer.Option(help="The page's URL, when ingesting a single page file")
    ] = None,
) -> None:
    """Parse and store stories; prints new / updated / unchanged / failed."""
    if url and len(inputs) != 1:
        _fail("--url: give it with exactly one page file")
    specs = expand_paths(inputs)
    if not specs:
        _fail(f"{' '.join(inputs)}: no story files found there")

    async def work(core: Core) -> tuple[Counter[str], list[Parsed]]:
        counts: Counter[str] = Counter()
        failures: list[Parsed] = []
        progress = Progress(
            TextColumn("[bold]ingest[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        )
        with progress:
            task = progress.add_task("", total=len(specs))
            async with core.fetcher() as fetcher:
                for spec in specs:
                    progress.update(task, description=Path(spec).name or spec)
                    async for parsed in read_source(spec, fetcher, url=url):
                        if parsed.story is not None:
                            counts[await core.stories.save(parsed.story, now=core.clock.now())] += 1
                        elif parsed.not_modified:
                            counts["unchanged"] += 1
                        else:
                            counts["failed"] += 1
                            failures.append(parsed)
                    progress.advance(task)
        return counts, failures

    counts, failures = _run(lambda: _with_core(work))
    table = Table(show_header=True, header_style="bold", box=None)
    for name in ("new", "updated", "unchanged", "failed"):
        table.add_column(name, justify="right")
    table.add_row(*(str(counts[n]) for n in ("new", "updated", "unchanged", "failed")))
    out.print(table)
    for failure in failures:
        err.print(f"signalbot: {failure.source}: {failure.error}", markup=False)
    if failures:
        raise typer.Exit(2)


def _region_filter(region: str | None) -> frozenset[str] | None:
    if region is None:
        return None
    try:
        return regions.leaves(regions.resolve(region).key)
    except regions.UnknownRegion as error:
        _fail(f"--region {region}: {error} (see 'signalbot regions')")


def _day(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(0), tzinfo=UTC)
    except ValueError:
        _fail(f"{option} {value}: not a date; write it as YYYY-MM-DD")


def _print_stories(found: list[Story]) -> None:
    if not found:
        out.print("No stories.")
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for name in ("id", "published", "region", "kind", "title"):
        table.add_column(name, overflow="fold")
    for story in found:
        when = story.published_at.strftime("%Y-%m-%d %H:%M") if story.published_at else "—"
        table.add_row(story.id, when, story.region or "—", story.kind, story.title)
    out.print(table)


@stories_app.command("list")
def stories_list(
    region: Annotated[str | None, typer.Option(help="A region key or alias")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
) -> None:
    """The newest stored stories."""
    keys = _region_filter(region)
    found = _run(lambda: _with_core(lambda core: core.stories.latest(regions=keys, limit=limit)))
    _print_stories(found)


@stories_app.command("search")
def stories_search(
    words: Annotated[list[str], typer.Argument(help="Words to look for")],
    region: Annotated[str | None, typer.Option(help="A region key or alias")] = None,
    since: Annotated[str | None, typer.Option(help="Published on or after (YYYY-MM-DD)")] = None,
    until: Annotated[str | None, typer.Option(help="Published before (YYYY-MM-DD)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
) -> None:
    """Full-text search over titles, news and insights."""
    try:
        query = SearchQuery.parse(
            " ".join(words),
            regions=_region_filter(region),
            since=_day(since, "--since"),
            until=_day(until, "--until"),
            limit=limit,
        )
    except EmptySearch as error:
        _fail(f"search: {error}")
    _print_stories(_run(lambda: _with_core(lambda core: core.stories.search(query))))


@stories_app.command("show")
def stories_show(story_id: Annotated[str, typer.Argument(help="A story id or URL")]) -> None:
    """Print one stored story as JSON."""

    async def show(core: Core) -> Story:
        found = await core.stories.find(story_id)
        if found is None:
            raise UserError(story_id, "no stored story has this id or URL")
        return found

    _dump(_story_json(_run(lambda: _with_core(show))))


@app.command("regions")
def regions_command() -> None:
    """The regions a channel can subscribe to, with aliases and default push times."""
    table = Table(show_header=True, header_style="bold", box=None)
    for name in ("key", "name", "home city", "push (local)", "aliases"):
        table.add_column(name, overflow="fold")
    for region in regions.REGIONS:
        table.add_row(
            region.key,
            region.name,
            f"{region.home_city} ({region.timezone.key})",
            region.push_time.strftime("%H:%M"),
            ", ".join(region.aliases) or "—",
        )
    out.print(table)


def _slack_sender(settings: Settings, core: Core) -> tuple[Any, Any]:
    """The Slack sender, on the one bot token or on each workspace's from its installation
    (and the installations, for OAuth)."""
    from adapters.slack import SlackSender, installation_store, tokens_from
    from adapters.slack.sender import LIMITS

    api = settings.slack_api_url
    paced = replace(LIMITS, per_workspace=settings.slack_workspace_rate)  # 0: Slack's 429s alone
    if settings.slack_bot_token is not None:  # one workspace
        token = settings.slack_bot_token.get_secret_value()
        return SlackSender.single(token, api_url=api, limits=paced), None
    assert settings.slack_client_id is not None  # many, installed through OAuth
    installations = installation_store(core.engine, settings.slack_client_id)
    return SlackSender(tokens_from(installations), api_url=api, limits=paced), installations


async def _nothing_wrong() -> str | None:
    return None


def _platform_doctors() -> operator.Doctors:
    """The adapters' checks for ``signalbot doctor`` (the CLI starts the adapters; nothing
    else in bot/ knows them), or why one cannot be imported."""
    slack: operator.SlackDoctor | ImportError
    discord: operator.DiscordDoctor | ImportError
    try:
        from adapters.slack import doctor as slack_doctor

        slack = slack_doctor
    except ImportError as error:
        slack = error
    try:
        from adapters.discord import doctor as discord_doctor

        discord = discord_doctor
    except ImportError as error:
        discord = error
    return operator.Doctors(slack, discord)


def _say(settings: Settings, line: str) -> None:
    """What the running bot tells its operator: a line of its own, or with JSON logs, a log
    entry like every other line."""
    if settings.log_format == "json":
        logging.getLogger("signalbot").log(max(logging.INFO, settings.log_level_number), line)
    else:
        err.print(f"signalbot: {line}", markup=False)


async def _start_slack(
    settings: Settings, bot: Any, installations: Any, server: Any, stack: AsyncExitStack
) -> tuple[str, Callable[[], Awaitable[str | None]]]:
    """Take Slack's requests (HTTP, Socket Mode, or OAuth installs) once the server starts:
    where they arrive (``{base}``: the server's address), and the health check of the
    connection (over HTTP, the server answering is the check)."""
    from adapters.slack import SlackAdapter, web_client

    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    adapter = SlackAdapter(bot, settings, web_client(token, settings.slack_api_url), installations)
    if installations is not None:
        adapter.mount(server)
        return "at {base}/slack/events (install at /slack/install)", _nothing_wrong
    if settings.slack_app_token is not None:
        socket = await adapter.connect(settings.slack_app_token.get_secret_value())
        stack.push_async_callback(socket.close_async)

        async def connected() -> str | None:
            return None if await socket.client.is_connected() else "Socket Mode disconnected"

        return "over Socket Mode", connected
    await adapter.check()
    adapter.mount(server)
    return "at {base}/slack/events", _nothing_wrong


@app.command()
def run(
    channel: Annotated[str, typer.Option(help="The console channel's name")] = "#general",
    samples: Annotated[
        bool, typer.Option(help="Load the bundled sample stories, newest an hour old")
    ] = False,
    member: Annotated[
        bool, typer.Option(help="Act as a member who may not manage the channel")
    ] = False,
) -> None:
    """Run the bot. With no Slack or Discord settings: the console channel."""
    settings = _settings()

    async def serve_platforms(core: Core) -> None:
        """Every platform whose settings are present, on one delivery engine, until SIGTERM
        or Ctrl-C; deliveries under way finish first."""
        from bot import observe
        from bot.delivery import Sender
        from bot.web import WebServer

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        lost: list[BaseException] = []

        def on_lost(error: BaseException) -> None:
            lost.append(error)
            stop.set()

        async with AsyncExitStack() as stack:
            senders: dict[str, Sender] = {}
            slack_sender = installations = discord = None
            if settings.slack_mode is not None:
                slack_sender, installations = _slack_sender(settings, core)
                await stack.enter_async_context(slack_sender)
                senders[slack_sender.platform] = slack_sender
            if settings.discord_token is not None:
                from adapters.discord import DiscordRunner

                discord = DiscordRunner(settings)
                stack.push_async_callback(discord.close)
                senders[discord.sender.platform] = discord.sender
            bot = build_bot(core, senders)
            freeze_startup_heap()  # before the first request can arrive: it takes a moment
            server = WebServer(settings.http_host, settings.http_port)
            stack.push_async_callback(server.stop)
            health = observe.Health()
            health.add("database", observe.database_check(core))
            said = []
            if slack_sender is not None:
                where, slack_problem = await _start_slack(settings, bot, installations, server,
                                                          stack)  # fmt: skip
                health.add("slack", slack_problem)
                said.append(f"taking Slack's requests {where}")
            if discord is not None:
                discord.attach(bot)
                await discord.login()
                discord.connect(on_lost)
                health.add("discord", discord.problem)
                said.append("connecting to Discord's gateway")
            await _serve_health(settings, core, server, health, said)
            await bot.start()
            stack.push_async_callback(bot.stop)
            await stop.wait()
        if lost:
            raise UserError("Discord", f"the gateway connection ended: {lost[0]}")

    async def serve(core: Core) -> None:
        if settings.slack_mode is not None or settings.discord_token is not None:
            await serve_platforms(core)
            return
        from adapters.console import ConsoleChannel
        from bot.samples import demo_stories

        if samples:
            for story in demo_stories(core.clock.now()):
                await core.stories.save(story, now=core.clock.now())
        console = ConsoleChannel(
            lambda sender: build_bot(core, {sender.platform: sender}),
            channel=channel,
            can_manage=not member,
        )
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, console.request_stop)
        async with AsyncExitStack() as stack:
            if "http_port" in settings.model_fields_set:  # asked for: health and metrics too
                from bot import observe
                from bot.web import WebServer

                server = WebServer(settings.http_host, settings.http_port)
                health = observe.Health()
                health.add("database", observe.database_check(core))
                stack.push_async_callback(server.stop)
                await _serve_health(settings, core, server, health)
            freeze_startup_heap()
            await console.run()  # on a signal, it ends once deliveries under way finish

    from bot import logs
    from bot.service import freeze_startup_heap, tune_gc

    logs.configure(settings)
    tune_gc()
    _run(lambda: _with_core(serve))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (the bot also does this at start)."""
    settings = _settings()

    async def upgrade() -> bool:
        from bot.store import db

        engine = db.create_engine(settings.database_url)
        try:
            return await db.upgrade(engine)
        finally:
            await engine.dispose()

    changed = _run(upgrade)
    out.print("Database upgraded." if changed else "Database already up to date.")


@db_app.command("downgrade")
def db_downgrade() -> None:
    """Undo the newest migration (to go back to the previous signalbot; stop every process
    first)."""
    settings = _settings()

    async def downgrade() -> str | None:
        from bot.store import db

        engine = db.create_engine(settings.database_url)
        try:
            return await db.downgrade_one(engine)
        finally:
            await engine.dispose()

    try:
        now_at = _run(downgrade)
    except ValueError as error:
        _fail(f"SIGNALBOT_DATABASE_URL: {error}")
    out.print(f"Database downgraded to {now_at or 'empty (no migration)'}.")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
