"""Execution: the backend and scheduler interfaces, host functions and call semantics."""
