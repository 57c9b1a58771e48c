"""bots: the workflow bot runtime (not built yet; see the workflow issues)."""
