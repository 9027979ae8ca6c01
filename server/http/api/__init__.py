"""REST handlers of both surfaces (native, OpenVidu Meet shaped; Whereby-compatible) and their
OpenAPI document."""
