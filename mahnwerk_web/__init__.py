"""What the front doors (designer, API, and the portal to come) share: their database per app
and their security headers.

It stands between them and the engine: the front doors may import it without importing each
other or reaching up to the program (`mahnwerk`); it imports only the engine's public API.
"""
