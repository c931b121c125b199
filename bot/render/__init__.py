"""Messages for every platform from one neutral model: Slack blocks, Discord embeds, plain text."""
