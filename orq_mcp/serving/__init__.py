"""Serving: one server process on its transport (stdio, or HTTP with its workers), the orq connection it is
given, logging on stderr, and the one exit every answer passes."""
