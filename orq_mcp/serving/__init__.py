"""Serving: the command line, settings, and the stdio and HTTP transports."""
