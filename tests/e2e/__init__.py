"""End-to-end tests: the embedded stack on loopback, real HTTP, nothing mocked."""
