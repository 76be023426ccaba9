"""The web service: feeds over HTTP, subscription pages, archive, publishing API.

HTTP errors are mapped here only: routes raise PublisherError subclasses and the handlers
in :mod:`publisher.web.errors` turn them into status codes.
"""

from publisher.web.app import create_app, front_door

__all__ = ["create_app", "front_door"]
