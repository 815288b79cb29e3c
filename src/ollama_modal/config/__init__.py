"""Profiles: schema, loading, overrides and validation."""

from .loader import Origin, ResolvedProfile, list_profiles, resolve
from .models import Profile

__all__ = ["Origin", "Profile", "ResolvedProfile", "list_profiles", "resolve"]
