"""The visitor gateway: the CXone Chat Web SDK 2.2.0 protocol over HTTP and WebSocket.

See docs/visitor-protocol.md.
"""
