"""Websocket consumers: check authentication and scope at connect, subscribe, forward."""
