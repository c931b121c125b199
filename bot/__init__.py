"""signalbot's platform-neutral core."""
