"""The command line: `orq-mcp` serves (the default), checks a key and the connection (`check`), prints client
configs (`config`)."""
