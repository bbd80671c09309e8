from registry.audit import services

__all__ = ["services"]
