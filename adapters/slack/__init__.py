"""The Slack adapter: slack-bolt's AsyncApp mapped onto the core's commands, and a Sender."""
