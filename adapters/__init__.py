"""Platform adapters (console, Slack, Discord). They import :mod:`bot`; never the other way."""
