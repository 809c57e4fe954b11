"""Subscribers of the chat app, registered in ``ChatConfig.ready``."""

from chat import realtime


def register() -> None:
    realtime.register()
