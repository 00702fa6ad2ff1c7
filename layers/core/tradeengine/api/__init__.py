"""The HTTP API (FastAPI): the only package of the engine that imports FastAPI.

``tokens`` is plain PyJWT (the ``tradeengine token`` command uses it without FastAPI); ``app.create_app``
builds the application over a ``Deps`` composition root.
"""
