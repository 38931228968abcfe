"""Writes: every change to the engine or the database goes through a function in this package."""
