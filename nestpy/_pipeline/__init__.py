"""Handler compilation machinery (private)."""
