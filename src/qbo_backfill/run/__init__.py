"""A run from start to end: its session, its plan of windows, the engine, verification."""
