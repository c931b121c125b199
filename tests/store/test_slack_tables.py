"""slack-sdk's own SQLAlchemy stores work on the tables our migrations made, on SQLite and
PostgreSQL: an installation saved is found again, a workspace's bot deleted, a state used once."""

from __future__ import annotations

from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy.ext.asyncio import AsyncEngine


async def test_installations_and_states_live_in_our_tables(engine: AsyncEngine) -> None:
    store = AsyncSQLAlchemyInstallationStore(client_id="111.222", engine=engine)
    await store.async_save(
        Installation(app_id="A1", team_id="T9", team_name="Acme", user_id="U1",
                     bot_token="xoxb-T9", bot_id="B1", bot_user_id="UBOT", bot_scopes="chat:write")
    )  # fmt: skip
    bot = await store.async_find_bot(enterprise_id=None, team_id="T9")
    assert bot is not None and bot.bot_token == "xoxb-T9"
    await store.async_delete_all(enterprise_id=None, team_id="T9")
    assert await store.async_find_bot(enterprise_id=None, team_id="T9") is None
    states = AsyncSQLAlchemyOAuthStateStore(expiration_seconds=600, engine=engine)
    state = await states.async_issue()
    assert await states.async_consume(state) is True
    assert await states.async_consume(state) is False
