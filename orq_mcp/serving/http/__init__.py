"""The HTTP transports (Streamable HTTP and legacy SSE): the app and its guards, sessions, resumable streams, the
listening socket."""
