"""conch's sans-I/O core: everything about HTTP, and no I/O at all."""
